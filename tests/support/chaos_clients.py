"""A visitor and an operator that behave like the widget and the console under faults, and
count every frame that shows a message.

The visitor keeps what the hub has not ``accepted`` in an outbox and sends it again (same
``client_msg_id``) after an ``unavailable`` error or a reconnect, and reconnects with
``after`` set to the newest message id it has, as widget.js does. The operator reconnects with
the last ``stream_id`` it saw, as live_socket.js does, and answers every client message once,
retrying while the hub answers 503. Neither drops a repeated message id: each frame that shows
a message is counted, so a repeat is visible to the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from typing import Any

import aiohttp

RECONNECT_S = 0.5
RESEND_S = 1.0
REPLY_PREFIX = "r-"


def _ws(base: str, path: str) -> str:
    return base.replace("http", "ws", 1) + path


class ChaosVisitor:
    """One web-chat visitor sending numbered messages."""

    def __init__(self, base: str, index: int, channel: str = "demo") -> None:
        self.base = base
        self.index = index
        self.channel = channel
        self.http = aiohttp.ClientSession()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.token: str | None = None
        self.last_id = 0
        self.outbox: dict[str, str] = {}
        """Messages the hub has not accepted yet, by client_msg_id."""
        self.sent: list[str] = []
        self.replies: Counter[int] = Counter()
        """Frames (live or in a reconnect's history) that showed each operator message."""
        self.shown_by: dict[int, list[str]] = {}
        """How each operator message came: ``live`` or ``history``, with the connection's
        number, to explain a repeat."""
        self.from_history = 0
        self.connections = 0
        self.stopping = asyncio.Event()

    async def run(self, count: int, pace_s: float) -> None:
        """Send ``count`` messages ``pace_s`` apart, then stay connected until ``stop``."""
        keeper = asyncio.create_task(self._keep_connected())
        try:
            for n in range(count):
                cid = f"v{self.index}-{n}"
                self.outbox[cid] = f"Question {n} from visitor {self.index}"
                self.sent.append(cid)
                await self._send(cid)
                await asyncio.sleep(pace_s)
            await self.stopping.wait()
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await self.http.close()

    async def drop(self) -> None:
        """Lose the connection, as a flaky network would; the visitor comes back by itself."""
        if self.ws is not None:
            await self.ws.close()

    async def _send(self, cid: str) -> None:
        ws = self.ws
        if ws is None or ws.closed or cid not in self.outbox:
            return  # the outbox sends it once the socket is back
        with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
            await ws.send_json({"type": "message", "client_msg_id": cid, "text": self.outbox[cid]})

    async def _keep_connected(self) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                await self._session()
            self.ws = None
            await asyncio.sleep(RECONNECT_S)

    async def _session(self) -> None:
        url = _ws(self.base, f"/widget/ws?channel={self.channel}")
        async with self.http.ws_connect(url) as ws:
            hello: dict[str, Any] = {"type": "hello"}
            if self.token:
                hello["token"] = self.token
            if self.last_id:
                hello["after"] = self.last_id
            await ws.send_json(hello)
            resender = asyncio.create_task(self._resend())
            try:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    self._on_frame(json.loads(msg.data), ws)
            finally:
                resender.cancel()

    async def _resend(self) -> None:
        while True:
            await asyncio.sleep(RESEND_S)
            for cid in list(self.outbox):
                await self._send(cid)

    def _on_frame(self, frame: dict[str, Any], ws: aiohttp.ClientWebSocketResponse) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            self.token = frame["token"]
            self.connections += 1
            for message in frame["history"]:
                if self._note(message, "history"):
                    self.from_history += 1
            self.ws = ws
            for cid in list(self.outbox):
                asyncio.get_running_loop().create_task(self._send(cid))
        elif kind == "accepted":
            self.outbox.pop(frame["client_msg_id"], None)
        elif kind == "message":
            self._note(frame, "live")

    def _note(self, message: dict[str, Any], how: str) -> bool:
        """Count a frame showing ``message``; True when it is an operator's."""
        self.last_id = max(self.last_id, int(message["id"]))
        if message.get("author") != "operator":
            return False
        self.replies[int(message["id"])] += 1
        self.shown_by.setdefault(int(message["id"]), []).append(f"{how}#{self.connections}")
        return True


class ChaosOperator:
    """A console user on the operator socket who answers every client message once."""

    def __init__(self, base: str, login: str, password: str) -> None:
        self.base = base
        self.login_name = login
        self.password = password
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": base}
        )
        self.seen: Counter[int] = Counter()
        """Frames that showed each client message, by message id."""
        self.replied: set[str] = set()
        self.replies_accepted = 0
        self.refused: list[str] = []
        self.last_stream_id: str | None = None
        self.connections = 0
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._replies: set[asyncio.Task[None]] = set()

    async def login(self, timeout_s: float = 30) -> None:
        """Log in and wait until the router has the operator online."""
        body = {"login": self.login_name, "password": self.password}
        async with self.http.post(f"{self.base}/api/login", json=body) as answer:
            assert answer.status == 200, await answer.text()
        async with asyncio.timeout(timeout_s):
            while True:
                async with self.http.get(f"{self.base}/api/me") as answer:
                    me = await answer.json()
                if me["operator"]["status"] == "online":
                    return
                await asyncio.sleep(0.05)

    async def run(self) -> None:
        """Stay on the socket, reconnecting with the last stream id, until cancelled."""
        try:
            while True:
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    await self._session()
                await asyncio.sleep(RECONNECT_S)
        finally:
            if self._replies:
                await asyncio.wait(set(self._replies), timeout=5)
            await self.http.close()

    async def drop(self) -> None:
        """Lose the connection; the operator comes back by itself with the last stream id."""
        if self.ws is not None:
            await self.ws.close()

    async def _session(self) -> None:
        after = f"&after={self.last_stream_id}" if self.last_stream_id else ""
        async with self.http.ws_connect(_ws(self.base, f"/api/ws?batch=1{after}")) as ws:
            self.ws = ws
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                for frame in json.loads(msg.data):
                    self._follow(frame)

    def _follow(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "hello":
            self.connections += 1
        if isinstance(frame.get("stream_id"), str):
            self.last_stream_id = frame["stream_id"]
        if frame.get("type") == "message":
            self._on_message(frame["message"])

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("author") != "client":
            return
        self.seen[int(message["id"])] += 1
        cid = message.get("client_msg_id")
        if not isinstance(cid, str) or cid in self.replied:
            return
        self.replied.add(cid)
        task = asyncio.create_task(self._reply(int(message["dialog_id"]), cid))
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def _reply(self, dialog_id: int, cid: str) -> None:
        """Post the answer until the hub takes it; 503 (Redis away) means try again."""
        body = {"text": f"Answer to {cid}", "client_msg_id": REPLY_PREFIX + cid}
        url = f"{self.base}/api/dialogs/{dialog_id}/messages"
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with self.http.post(url, json=body) as answer:
                    await answer.read()
                    if answer.status == 202:
                        self.replies_accepted += 1
                        return
                    if answer.status < 500:
                        self.refused.append(f"{cid}: {answer.status}")
                        return
            await asyncio.sleep(RECONNECT_S)
