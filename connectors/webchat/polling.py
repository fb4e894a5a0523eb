"""The widget over long polls, for networks that refuse websockets.

Corporate proxies that drop the ``Upgrade`` header, antivirus web shields and some old
middleboxes let plain HTTP through and refuse a websocket: a visitor behind one could not chat
at all. When its sockets keep failing to open, the widget talks over this link instead. The
frames are those of the socket (docs/PROTOCOL.md, "Web chat over long polls"):

- ``POST /widget/poll?channel=<key>`` opens a link: ``201 {"link": id, "wait_s": 25}``.
- ``POST /widget/poll/<link>``: frames from the visitor, one JSON text a line; ``202``.
- ``GET /widget/poll/<link>?after=<n>``: the frames to the visitor after its n-th, waiting up
  to ``wait_s`` for one. The first line is ``{"last": <n>, "closed": null}``; a frame a line
  follows. Frames up to ``after`` are forgotten then, so a poll asked again with the same
  ``after`` gets the same frames.
- ``POST /widget/poll/<link>/close`` closes it: the widget's beacon when its page goes.

Each request is a plain one that a browser sends from any page without asking first.

A link lives in the memory of the hub process that opened it, as a socket does. Behind several
connector processes the proxy must send a link's requests to the one that opened it
(docs/DEPLOY.md); a request that reaches another gets 404, and the widget opens a new link and
reads back what it missed, as after any reconnect. A link that nobody polls for ``IDLE_S`` is
closed, as a socket that misses its heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, web

from connectors.webchat.delivery import BEHIND_BYTES
from connectors.webchat.link import MAX_FRAME_BYTES
from connectors.webhook_body import read_body
from core import frames
from core.db.schema import Channel

log = logging.getLogger(__name__)

WAIT_S = 25.0
"""How long a poll waits for a frame: below the 30–60 s after which proxies drop a quiet
request."""
IDLE_S = 40.0
"""A link with no poll waiting and none for this long is closed: its page is gone."""
SWEEP_S = 5.0
"""How often idle links are looked for."""
MAX_POST_BYTES = 256 * 1024
"""The most frames one request may carry, in bytes."""
MAX_WAITING_FRAMES = 64
"""Frames of a link waiting to be handled, at most: a page that sends faster than the hub
handles is told to wait (429), as a socket's reads stop."""
LINKS_PER_ADDRESS = 200
"""Open links from one client address, at most: an office behind one address has many
visitors, and a script opening links by the thousand is stopped."""

ChannelByKey = Callable[[str], Awaitable[Channel | None]]
Serve = Callable[["PollLink", Channel, str], Awaitable[None]]
"""Handles a link's frames until it closes: the same loop as a socket's."""


class PollLink:
    """One widget's link: frames from it wait in ``inbox``, frames to it in the outbox."""

    def __init__(self, address: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.id = secrets.token_urlsafe(18)
        """The link's name in its URLs; unguessable, as it stands for the visitor's socket."""
        self.address = address
        self.clock = clock
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed_with: tuple[int, str] | None = None
        self.closed_at = 0.0
        self.polled_at = clock()
        self.polls = 0
        """Polls waiting now."""
        self._outbox: deque[tuple[int, str]] = deque()
        self._last = 0
        """The number of the last frame queued for the visitor."""
        self._unread_bytes = 0
        self._more = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self.closed_with is not None

    async def send_json(
        self, data: Any, compress: int | None = None, *, dumps: Callable[[Any], str] = json.dumps
    ) -> None:
        """Queue one frame for the visitor's next poll (see ``VisitorLink``)."""
        if self.closed:
            raise ConnectionResetError("the visitor's link is closed")
        text = dumps(data)
        if self._unread_bytes + len(text) > BEHIND_BYTES:
            # As a socket that far behind: the frame is not taken, and the widget reads back
            # what it missed when it returns.
            log.warning("a visitor's poll link holds %d bytes unread; closing it",
                        self._unread_bytes)  # fmt: skip
            await self.close(code=WSCloseCode.GOING_AWAY, message=b"too far behind")
            raise ConnectionResetError("the visitor's link fell too far behind")
        self._last += 1
        self._outbox.append((self._last, text))
        self._unread_bytes += len(text)
        self._more.set()

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"") -> bool:
        """Close the link: its frames end, and its next poll says so (see ``VisitorLink``)."""
        if self.closed:
            return False
        self.closed_with = (code, message.decode(errors="replace"))
        self.closed_at = self.clock()
        self.inbox.put_nowait(None)
        self._more.set()
        return True

    async def incoming(self) -> AsyncIterator[str]:
        """The visitor's frames, in order, until the link closes."""
        while (text := await self.inbox.get()) is not None:
            yield text

    async def frames_after(self, after: int, wait_s: float) -> tuple[int, list[str]]:
        """The number of the last frame, and the frames after the ``after``-th, waiting up to
        ``wait_s`` for one. A newer poll ends a waiting one: its client has gone."""
        self.polled_at = self.clock()
        while self._outbox and self._outbox[0][0] <= after:
            self._unread_bytes -= len(self._outbox.popleft()[1])
        if not self._outbox and not self.closed:
            waiting, self._more = self._more, asyncio.Event()
            waiting.set()  # an older poll gives way
            self.polls += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._more.wait(), wait_s)
            finally:
                self.polls -= 1
                self.polled_at = self.clock()
        return self._last, [text for number, text in self._outbox if number > after]

    def idle(self) -> bool:
        """No poll waiting, and none for ``IDLE_S``."""
        return self.polls == 0 and self.clock() - self.polled_at > IDLE_S

    def forgotten(self) -> bool:
        """Closed for ``IDLE_S``: a widget still there would have read the closing by now."""
        return self.closed and self.clock() - self.closed_at > IDLE_S


class PollLinks:
    """The open poll links of this process and their endpoints."""

    def __init__(self, channel_by_key: ChannelByKey, serve: Serve) -> None:
        self.channel_by_key = channel_by_key
        self.serve = serve
        self.links: dict[str, PollLink] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.post("/widget/poll", self.open_link),
            web.post("/widget/poll/{link}", self.frames_in),
            web.get("/widget/poll/{link}", self.frames_out),
            web.post("/widget/poll/{link}/close", self.close_link),
        ]

    async def open_link(self, request: web.Request) -> web.Response:
        key = request.query.get("channel", "")
        channel = await self.channel_by_key(key)
        if channel is None:
            raise web.HTTPNotFound(text=f"channel: no web chat with key {key!r}")
        address = request.remote or "unknown"
        if sum(link.address == address for link in self.links.values()) >= LINKS_PER_ADDRESS:
            raise web.HTTPTooManyRequests(
                text=f"too many open chat links from this address (over {LINKS_PER_ADDRESS})",
                headers={"Retry-After": str(int(IDLE_S))},
            )
        link = PollLink(address)
        self.links[link.id] = link
        task = asyncio.create_task(self._serve(link, channel))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response({"link": link.id, "wait_s": WAIT_S}, status=201)

    async def _serve(self, link: PollLink, channel: Channel) -> None:
        try:
            await self.serve(link, channel, link.address)
        except ConnectionError:
            pass  # the link closed under a frame it was answering
        except Exception:
            log.exception("a visitor's poll link failed on channel %s", channel.id)
        finally:
            await link.close(code=WSCloseCode.INTERNAL_ERROR, message=b"link ended")

    async def frames_in(self, request: web.Request) -> web.Response:
        """Queue the visitor's frames, one JSON text a line, for the link's loop."""
        link = self._link(request)
        if link.closed:
            raise web.HTTPGone(text="link: closed; open a new one")
        too_much = f"frames: over {MAX_POST_BYTES // 1024} KB in one request"
        body = await read_body(request, MAX_POST_BYTES, reason=too_much)
        try:
            lines = [line for line in body.decode().split("\n") if line.strip()]
        except UnicodeDecodeError:
            raise web.HTTPBadRequest(text="frames: not UTF-8 text") from None
        for number, line in enumerate(lines, 1):
            if len(line.encode()) > MAX_FRAME_BYTES:
                raise web.HTTPRequestEntityTooLarge(
                    MAX_FRAME_BYTES, len(line), text=f"frame {number}: over 64 KB"
                )
        if link.inbox.qsize() + len(lines) > MAX_WAITING_FRAMES:
            raise web.HTTPTooManyRequests(
                text=f"frames: {link.inbox.qsize()} are waiting to be handled; send again shortly",
                headers={"Retry-After": "1"},
            )
        for line in lines:
            link.inbox.put_nowait(line)
        return web.Response(status=202)

    async def frames_out(self, request: web.Request) -> web.Response:
        """The frames for the visitor after ``after``, once there are any (or ``WAIT_S``)."""
        link = self._link(request)
        try:
            after = int(request.query.get("after", "0"))
            if after < 0:
                raise ValueError(after)
        except ValueError:
            raise web.HTTPBadRequest(text="after: the number of a frame, 0 or more") from None
        last, texts = await link.frames_after(after, WAIT_S)
        closed = None
        if link.closed_with is not None:
            code, reason = link.closed_with
            closed = {"code": code, "reason": reason}
            self.links.pop(link.id, None)  # this answer carries everything the link had left
        head = frames.dumps({"last": last, "closed": closed})
        return web.Response(
            text="\n".join((head, *texts)),
            content_type="application/x-ndjson",
            headers={"Cache-Control": "no-store"},
        )

    async def close_link(self, request: web.Request) -> web.Response:
        """The widget's page went: close its link now, not when it idles out."""
        link = self.links.pop(request.match_info["link"], None)
        if link is not None:
            await link.close(code=WSCloseCode.GOING_AWAY, message=b"the page closed it")
        return web.Response(status=204)

    def _link(self, request: web.Request) -> PollLink:
        link = self.links.get(request.match_info["link"])
        if link is None:
            raise web.HTTPNotFound(text="link: not open on this hub process; open a new one")
        return link

    async def run(self) -> None:
        """Close the links nobody polls any more, and forget the closed ones, until cancelled."""
        while True:
            await asyncio.sleep(SWEEP_S)
            for link in list(self.links.values()):
                if link.forgotten():
                    self.links.pop(link.id, None)
                elif link.idle() and not link.closed:
                    await link.close(code=WSCloseCode.GOING_AWAY, message=b"no poll")

    async def close(self) -> None:
        """Close every link (their widgets open new ones, on another process or later)."""
        for link in list(self.links.values()):
            await link.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
