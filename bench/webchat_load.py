"""Simulated visitors and operators speaking the hub's wire protocols (docs/PROTOCOL.md).

Visitors are closed-loop: each sends a message, waits for the operator's reply to it, then
sends the next. Operators read their socket and answer every client message in the dialogs
assigned to them at once, over the REST API. So the number of visitor messages in flight is
at most the number of visitors, the hub is driven as fast as it answers, and a faster hub shows
up as a higher rate rather than as an idle gap.

Every instant is ``time.perf_counter()`` in this one process, so latencies between a visitor's
send and an operator's receipt need no clock agreement.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from bench.load_result import LoadResult, summarise

# The visitor socket refuses more than its limit of messages in WINDOW_S seconds; a visitor who
# would exceed it waits, so the benchmark never measures refusals. The benchmark raises the
# hub's limit (``webchat_max_per_visitor``) to RAISED_RATE_LIMIT, so pacing is a safety net.
from bench.procs import RAISED_RATE_LIMIT
from connectors.webchat.rate import WINDOW_S as RATE_WINDOW_S
from core import frames
from operator_console.live import RESYNC

RATE_MARGIN_S = 0.05
REPLY_PREFIX = "r-"


@dataclass
class Track:
    """The instants of one visitor message and of the operator's reply to it."""

    sent: float
    accepted: float | None = None
    """The visitor got ``accepted``: the message is on the bus."""
    echoed: float | None = None
    """The visitor got its own message back: it is stored."""
    console: float | None = None
    """The dialog's operator got the ``message`` frame on the console socket."""
    reply_sent: float | None = None
    """The operator started the POST of the reply."""
    reply_posted: float | None = None
    """The POST answered 202."""
    reply_seen: float | None = None
    """The visitor got the operator's reply."""


@dataclass
class Shared:
    """State every simulated client writes to."""

    tracks: dict[str, Track] = field(default_factory=dict)
    owners: dict[int, int | None] = field(default_factory=dict)
    """dialog id -> operator id, from the ``dialog`` frames."""
    paced: int = 0
    """How many sends waited for the visitor socket's rate limit."""
    resyncs: int = 0
    """How many times the console closed an operator's socket that fell behind, which then
    reopened after the last event it had."""
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)

    def error(self, code: str, detail: str) -> None:
        """Count an error and keep the first few details."""
        self.errors[code] += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(f"{code}: {detail}")


def _ws_url(base: str, path: str) -> str:
    return base.replace("http", "ws", 1) + path


class Visitor:
    """One browser tab with the widget open."""

    def __init__(
        self,
        index: int,
        base: str,
        channel: str,
        http: aiohttp.ClientSession,
        rate_limit: int = RAISED_RATE_LIMIT,
    ) -> None:
        self.index = index
        self.rate_limit = rate_limit
        self.base = base
        self.channel = channel
        self.http = http
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self) -> None:
        """Open the socket and say hello; returns after ``welcome``."""
        self.ws = await self.http.ws_connect(
            _ws_url(self.base, f"/widget/ws?channel={self.channel}"), compress=0, autoping=True
        )
        await self.ws.send_str(frames.dumps({"type": "hello"}))
        while True:
            frame = await self._frame(30)
            if frame.get("type") == "welcome":
                return
            if frame.get("type") == "error":
                raise RuntimeError(f"visitor {self.index}: hello refused: {frame}")

    async def converse(
        self, messages: int, shared: Shared, timeout_s: float, start: asyncio.Event
    ) -> None:
        """Send ``messages`` messages, each after the reply to the previous one."""
        assert self.ws is not None
        await start.wait()
        recent: deque[float] = deque(maxlen=min(self.rate_limit, messages))
        for number in range(messages):
            if await self._pace(recent):
                shared.paced += 1
            cid = f"v{self.index}-m{number}"
            track = Track(sent=time.perf_counter())
            shared.tracks[cid] = track
            recent.append(track.sent)
            await self.ws.send_str(
                frames.dumps(
                    {"type": "message", "client_msg_id": cid, "text": f"Hello, message {cid}"}
                )
            )
            try:
                # One deadline for the message's frames, not a timer for each frame: the
                # benchmark's clients share the machine with the hub, and three timers a
                # message were a tenth of their CPU.
                async with asyncio.timeout(timeout_s):
                    while track.reply_seen is None:
                        self._note(await self._frame(), shared)
            except TimeoutError:
                shared.error("lost", f"no reply to {cid} within {timeout_s:g} s")
            except ConnectionError as exc:
                # The hub closed the socket: this visitor is done; the run goes on and
                # reports it (a browser would reconnect, which is not what is measured).
                shared.error("socket_closed", str(exc))
                return

    async def _pace(self, recent: deque[float]) -> bool:
        # The hub counts the last RATE_MAX messages by when it read them, which is no earlier
        # than we sent them and (closed loop) no later than we sent the message after them;
        # so the (RATE_MAX-1)-th last send plus the window is a safe earliest instant.
        if len(recent) < self.rate_limit:
            return False
        earliest = recent[1] + RATE_WINDOW_S + RATE_MARGIN_S
        wait = earliest - time.perf_counter()
        if wait <= 0:
            return False
        await asyncio.sleep(wait)
        return True

    def _note(self, frame: dict[str, Any], shared: Shared) -> None:
        now = time.perf_counter()
        kind = frame.get("type")
        cid = frame.get("client_msg_id")
        if kind == "accepted" and isinstance(cid, str) and cid in shared.tracks:
            shared.tracks[cid].accepted = now
        elif kind == "message" and isinstance(cid, str):
            if frame.get("author") == "visitor" and cid in shared.tracks:
                shared.tracks[cid].echoed = now
            elif frame.get("author") == "operator" and cid.startswith(REPLY_PREFIX):
                track = shared.tracks.get(cid.removeprefix(REPLY_PREFIX))
                if track is not None and track.reply_seen is None:
                    track.reply_seen = now
        elif kind == "error":
            shared.error(str(frame.get("code")), f"visitor {self.index}: {frame.get('reason')}")

    async def _frame(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The next text frame, waiting at most ``timeout_s`` (None: as long as it takes; the
        caller's own deadline, if any, cancels the wait)."""
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout_s)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"visitor {self.index}: socket ended: {msg.type.name}")
        frame: dict[str, Any] = orjson.loads(msg.data)
        return frame

    async def close(self) -> None:
        """Close the socket."""
        if self.ws is not None:
            await self.ws.close()


class Operator:
    """One console tab: REST API with a session cookie, plus the operator socket."""

    def __init__(self, base: str, login: str, password: str, replies: str = "socket") -> None:
        self.base = base
        self.replies = replies
        """How replies go: over the operator socket, as the console sends them, or "post"."""
        self.login_name = login
        self.password = password
        # unsafe=True: keep cookies for an IP address host (127.0.0.1).
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            connector=aiohttp.TCPConnector(limit=0),
            # The console refuses state changes that do not come from its own origin.
            headers={"Origin": base},
            json_serialize=frames.dumps,
        )
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.id = 0
        self.supervisor = False
        self._replies: set[asyncio.Task[None]] = set()
        self._answers: dict[str, Track] = {}
        """Replies sent over the socket, by client_msg_id, until the hub answers."""
        self.stream_id: str | None = None
        """The events-stream id of the last event the socket brought."""
        self.unread: list[dict[str, Any]] = []
        """Frames that came with the hello, to follow once the socket is read."""
        self.closing = False
        """Set once the benchmark closes the socket itself: its end is no reason to reopen."""

    async def login(self, timeout_s: float = 30) -> None:
        """Log in, wait until the router has marked us online, and open the socket."""
        async with self.http.post(
            f"{self.base}/api/login", json={"login": self.login_name, "password": self.password}
        ) as answer:
            body = await answer.json()
            if answer.status != 200:
                raise RuntimeError(f"login {self.login_name}: {answer.status} {body}")
        self.id = int(body["operator"]["id"])
        self.supervisor = body["operator"]["role"] in ("admin", "manager")
        # Login publishes the presence change; dialogs go only to operators the router has
        # already recorded as online, so start no visitor before that.
        async with asyncio.timeout(timeout_s):
            while True:
                async with self.http.get(f"{self.base}/api/me") as answer:
                    me = await answer.json()
                if me["operator"]["status"] == "online":
                    break
                await asyncio.sleep(0.05)
        await self.connect()

    async def connect(self) -> bool:
        """Open the operator socket, after the last event this operator had if any (as the
        console reconnects), and read its ``hello``; whether the hub replays all it missed."""
        path = "/api/ws?batch=1"
        if self.stream_id is not None:
            path += f"&after={quote(self.stream_id)}"
        self.ws = await self.http.ws_connect(_ws_url(self.base, path), compress=0)
        [hello, *live] = await self.ws.receive_json(timeout=30)
        self.unread = live
        if hello.get("type") != "hello":
            raise RuntimeError(f"operator socket: expected hello, got {hello}")
        return bool(hello.get("resumed"))

    async def reload(self, shared: Shared) -> None:
        """Read the open dialogs back, as the console does when a hello says that not all it
        missed is replayed, and answer the client messages in them still waiting."""
        async with self.http.get(f"{self.base}/api/dialogs") as answer:
            dialogs = (await answer.json())["dialogs"]
        for dialog in dialogs:
            dialog_id = int(dialog["id"])
            shared.owners[dialog_id] = dialog.get("operator_id")
            async with self.http.get(f"{self.base}/api/dialogs/{dialog_id}") as answer:
                messages = (await answer.json())["messages"]
            now = time.perf_counter()
            for message in messages:
                self._on_message(message, now, shared)

    async def serve(self, shared: Shared) -> None:
        """Read the socket until it closes; answer each client message in our dialogs.

        The console closes a socket whose frames wait unread (``RESYNC``): the benchmark's
        clients share the machine with the hub, and a supervisor's socket carries every
        dialog's frames. Such a socket is opened again after its last event, so the hub replays
        what it missed, as the console does; a run would otherwise wait for replies that no
        operator was told to write."""
        while True:
            await self._read(shared)
            assert self.ws is not None
            if self.closing:
                return
            code = self.ws.close_code
            if code != RESYNC:
                shared.error("operator_closed", f"{self.login_name}'s socket closed: {code}")
                return
            shared.resyncs += 1
            try:
                if not await self.connect():
                    await self.reload(shared)
            except (aiohttp.ClientError, RuntimeError, TimeoutError) as exc:
                shared.error("operator_closed", f"{self.login_name}'s socket not reopened: {exc!r}")
                return

    async def _read(self, shared: Shared) -> None:
        assert self.ws is not None
        self._apply(self.unread, time.perf_counter(), shared)
        self.unread = []
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            self._apply(orjson.loads(msg.data), time.perf_counter(), shared)

    def _apply(self, frames: list[dict[str, Any]], now: float, shared: Shared) -> None:
        """Follow one message's frames, as the console does."""
        for frame in frames:
            if isinstance(frame.get("stream_id"), str):
                self.stream_id = frame["stream_id"]
            kind = frame.get("type")
            if kind == "dialog":
                dialog = frame["dialog"]
                shared.owners[int(dialog["id"])] = dialog.get("operator_id")
            elif kind == "message":
                self._on_message(frame["message"], now, shared)
            elif kind in ("reply_accepted", "reply_refused"):
                self._on_answer(frame, now, shared)

    def _on_answer(self, frame: dict[str, Any], now: float, shared: Shared) -> None:
        cid = frame.get("client_msg_id")
        track = self._answers.pop(cid, None) if isinstance(cid, str) else None
        if track is None:
            return
        if frame["type"] == "reply_accepted":
            track.reply_posted = now
        else:
            shared.error(f"socket_{frame.get('status')}", f"reply {cid}: {frame.get('error')}")

    def _on_message(self, message: dict[str, Any], now: float, shared: Shared) -> None:
        if message.get("author") != "client":
            return
        dialog_id = int(message["dialog_id"])
        owner = shared.owners.get(dialog_id)
        # The dialog's operator answers; a dialog nobody took is answered by a supervisor,
        # which takes it (as a person watching the queue would).
        if owner != self.id and not (owner is None and self.supervisor):
            return
        cid = message.get("client_msg_id")
        track = shared.tracks.get(cid) if isinstance(cid, str) else None
        if track is None or track.console is not None:
            return  # not ours, or a repeat after an at-least-once redelivery
        track.console = now
        task = asyncio.create_task(self._reply(dialog_id, str(cid), track, shared))
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def _reply(self, dialog_id: int, cid: str, track: Track, shared: Shared) -> None:
        track.reply_sent = time.perf_counter()
        body = {"text": f"Answer to {cid}", "client_msg_id": REPLY_PREFIX + cid}
        if self.replies == "socket":
            assert self.ws is not None
            self._answers[REPLY_PREFIX + cid] = track
            frame = {"type": "reply", "dialog_id": dialog_id, **body}
            try:
                await self.ws.send_str(orjson.dumps(frame).decode())
            except (aiohttp.ClientError, ConnectionError) as exc:
                shared.error("socket_error", f"reply to {cid}: {exc!r}")
            return
        try:
            async with self.http.post(
                f"{self.base}/api/dialogs/{dialog_id}/messages", json=body
            ) as answer:
                await answer.read()
                if answer.status != 202:
                    shared.error(f"http_{answer.status}", f"reply to {cid}")
                    return
            track.reply_posted = time.perf_counter()
        except aiohttp.ClientError as exc:
            shared.error("http_error", f"reply to {cid}: {exc!r}")

    async def close(self) -> None:
        """Finish replies in flight, close the socket and the session."""
        self.closing = True
        if self._replies:
            await asyncio.wait(set(self._replies), timeout=10)
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()


@contextlib.asynccontextmanager
async def talking(
    base: str,
    channel: str,
    visitors: int,
    operators: list[tuple[str, str]],
    make_visitor: Callable[[int, aiohttp.ClientSession], Visitor],
    operator_base: str | None = None,
    replies: str = "socket",
) -> AsyncIterator[tuple[Shared, list[Visitor]]]:
    """Log the operators in and have them serve, connect the visitors; close everything after.

    Operators use ``operator_base`` when the console is a process of its own (else ``base``).
    """
    shared = Shared()
    desk = operator_base or base
    staff = [Operator(desk, login, password, replies) for login, password in operators]
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    crowd = [make_visitor(i, http) for i in range(visitors)]
    serving: list[asyncio.Task[None]] = []
    try:
        for op in staff:
            await op.login()
        serving = [asyncio.create_task(op.serve(shared)) for op in staff]
        # Connect in waves: a thousand simultaneous handshakes would measure the accept queue.
        gate = asyncio.Semaphore(50)

        async def connect(visitor: Visitor) -> None:
            async with gate:
                await visitor.connect()

        await asyncio.gather(*(connect(v) for v in crowd))
        yield shared, crowd
    finally:
        for visitor in crowd:
            with contextlib.suppress(Exception):
                await visitor.close()
        await http.close()
        for op in staff:
            with contextlib.suppress(Exception):
                await op.close()
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)


async def run_load(
    base: str,
    channel: str,
    visitors: int,
    messages: int,
    operators: list[tuple[str, str]],
    msg_timeout_s: float,
    total_timeout_s: float,
    on_phase: Callable[[str], Awaitable[None]] | None = None,
    operator_base: str | None = None,
    replies: str = "socket",
) -> LoadResult:
    """Log the operators in, connect the visitors, then let every visitor talk at once.

    ``on_phase`` is awaited with "start" just before the visitors start talking and "end" once
    they are done, so the caller can take readings over exactly that window.
    """

    def visitor(index: int, http: aiohttp.ClientSession) -> Visitor:
        return Visitor(index, base, channel, http)

    async with talking(base, channel, visitors, operators, visitor, operator_base, replies) as (
        shared,
        crowd,
    ):
        start = asyncio.Event()
        talks = [
            asyncio.create_task(v.converse(messages, shared, msg_timeout_s, start)) for v in crowd
        ]
        if on_phase is not None:
            await on_phase("start")
        start.set()
        try:
            async with asyncio.timeout(total_timeout_s):
                await asyncio.gather(*talks)
        except TimeoutError:
            shared.error("timeout", f"the run passed --max-seconds {total_timeout_s:g}")
        finally:
            if on_phase is not None:
                await on_phase("end")
            for task in talks:
                task.cancel()
            await asyncio.gather(*talks, return_exceptions=True)
    return summarise(shared, visitors, messages, len(operators))
