"""Test-side clients of a running hub: a visitor on the widget socket and an operator on the
console. They speak the wire protocol of docs/PROTOCOL.md, nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from tests.support.admin import ADMIN_PASSWORD


class VisitorClient:
    """A browser-less visitor of a web-chat channel."""

    def __init__(self, base: str, channel: str = "demo") -> None:
        self.base = base
        self.channel = channel
        self.http = aiohttp.ClientSession()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.token: str | None = None
        self.welcome: dict[str, Any] = {}

    async def connect(
        self,
        token: str | None = None,
        after: int | None = None,
        identity: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Open the socket (with ``headers``, as a proxy would add them), say hello (with the
        site's signed ``identity``, if given), and return the welcome frame."""
        ws_url = self.base.replace("http", "ws", 1) + f"/widget/ws?channel={self.channel}"
        self.ws = await self.http.ws_connect(ws_url, headers=headers)
        await self.ws.send_json(self.hello(token, after, identity))
        frame = await self.receive()
        if frame["type"] == "welcome":
            self.token = frame["token"]
            self.welcome = frame
        return frame

    def hello(
        self, token: str | None, after: int | None, identity: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The hello frame: with the token of an earlier connection unless given another."""
        hello: dict[str, Any] = {"type": "hello"}
        if token or self.token:
            hello["token"] = token or self.token
        if after is not None:
            hello["after"] = after
        if identity is not None:
            hello["identity"] = identity
        return hello

    async def say(self, text: str, client_msg_id: str | None = None) -> str:
        """Send a message; returns its client_msg_id."""
        assert self.ws is not None
        cid = client_msg_id or uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "client_msg_id": cid, "text": text})
        return cid

    async def send_raw(self, data: str) -> None:
        assert self.ws is not None
        await self.ws.send_str(data)

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, f"socket closed: {msg}"
        frame: dict[str, Any] = json.loads(msg.data)
        return frame

    async def receive_until(self, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """Skip frames until one of ``kind`` whose fields include ``match``."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.receive()
                if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                    return frame

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()


class OperatorClient:
    """A console user, through the REST API and the operator socket."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": base}
        )
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.frames: list[dict[str, Any]] = []
        self.unread: deque[dict[str, Any]] = deque()
        """Frames of a message read already, not yet returned by ``receive``."""

    async def login(self, login: str, password: str) -> dict[str, Any]:
        async with self.http.post(
            f"{self.base}/api/login", json={"login": login, "password": password}
        ) as resp:
            body: dict[str, Any] = await resp.json()
            assert resp.status == 200, body
            return body

    async def wait_status(self, status: str, timeout: float = 10) -> None:
        """Wait until the router has recorded the operator's presence (login publishes it)."""
        async with asyncio.timeout(timeout):
            while (await self.call("GET", "/api/me"))[1]["operator"]["status"] != status:
                await asyncio.sleep(0.05)

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, f"{self.base}{path}", json=body) as resp:
            if resp.status == 204:
                return resp.status, None
            return resp.status, await resp.json()

    async def open_socket(self, batch: bool = True) -> dict[str, Any]:
        """Open the operator socket and return its hello; with ``batch``, frames come in lists,
        as the console takes them."""
        query = "?batch=1" if batch else ""
        self.ws = await self.http.ws_connect(f"{self.base.replace('http', 'ws', 1)}/api/ws{query}")
        self.unread.clear()
        return await self.receive()

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        """The next frame, of the list in hand or of the next message."""
        assert self.ws is not None
        if not self.unread:
            msg = await self.ws.receive(timeout=timeout)
            assert msg.type == aiohttp.WSMsgType.TEXT, f"socket closed: {msg}"
            self.unread.extend(frames_in(msg))
        frame = self.unread.popleft()
        self.frames.append(frame)
        return frame

    async def receive_until(self, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """Skip frames until one of ``kind`` whose dialog or message (for those kinds) or own
        fields include ``match``; of ``delivery`` frames, the first matching change is
        returned."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.receive()
                if frame["type"] != kind:
                    continue
                for body in _bodies(frame):
                    if all(body.get(k) == v for k, v in match.items()):
                        return body if kind == "delivery" else frame

    async def receive_each(
        self, kind: str, *matches: dict[str, Any], timeout: float = 10
    ) -> list[dict[str, Any]]:
        """The first frame of ``kind`` matching each of ``matches`` (of ``delivery`` frames, the
        change), in whatever order they arrive: unlike ``receive_until`` one after the other, a
        frame that comes before the one awaited first is kept, not skipped."""
        found: list[dict[str, Any] | None] = [None] * len(matches)
        async with asyncio.timeout(timeout):
            while None in found:
                frame = await self.receive(timeout=timeout)
                if frame["type"] != kind:
                    continue
                for body in _bodies(frame):
                    for n, match in enumerate(matches):
                        if found[n] is None and all(body.get(k) == v for k, v in match.items()):
                            found[n] = body if kind == "delivery" else frame
                            break
        return [frame for frame in found if frame is not None]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()


def frames_in(msg: aiohttp.WSMessage) -> list[dict[str, Any]]:
    """The frames of one text message of the operator socket: a list of them, or one."""
    data = json.loads(msg.data)
    return data if isinstance(data, list) else [data]


def _bodies(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """What a frame's match is tried on: its dialog or message, each change of a ``delivery``
    frame, or else the frame itself."""
    kind = frame["type"]
    if kind in ("dialog", "message"):
        return [frame.get(kind, {})]
    if kind == "delivery":
        return list(frame["changes"])
    return [frame]


@contextlib.asynccontextmanager
async def admin_on_socket(base: str) -> AsyncIterator[OperatorClient]:
    """The first admin signed in, online, with the operator socket open."""
    client = OperatorClient(base)
    try:
        await client.login("admin", ADMIN_PASSWORD)
        await client.wait_status("online")
        await client.open_socket()
        yield client
    finally:
        await client.close()
