"""A browser-less visitor of the web chat over long polls (docs/PROTOCOL.md, "Web chat over
long polls"): the widget's way where a network refuses websockets."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from typing import Any

from tests.support.hubclient import VisitorClient


class PollVisitor(VisitorClient):
    """One visitor's link: frames out by ``POST``, frames in by long ``GET``."""

    def __init__(self, base: str, channel: str = "demo") -> None:
        super().__init__(base, channel)
        self.link = ""
        self.after = 0
        self.closed: dict[str, Any] | None = None
        self._frames: deque[dict[str, Any]] = deque()

    @property
    def url(self) -> str:
        return f"{self.base}/widget/poll/{self.link}"

    async def connect(
        self,
        token: str | None = None,
        after: int | None = None,
        identity: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Open a link (with ``headers``), say hello as ``VisitorClient.connect`` does and
        return the welcome."""
        url = f"{self.base}/widget/poll?channel={self.channel}"
        async with self.http.post(url, headers=headers) as resp:
            assert resp.status == 201, await resp.text()
            self.link = (await resp.json())["link"]
        assert await self.send(self.hello(token, after, identity)) == 202
        welcome = await self.receive()
        if welcome["type"] == "welcome":
            self.token = welcome["token"]
            self.welcome = welcome
        return welcome

    async def send_raw(self, data: str) -> None:
        assert await self.send(data) == 202

    async def send(self, *frames: dict[str, Any] | str) -> int:
        """Post frames (objects, or raw lines); the answer's status."""
        body = "\n".join(f if isinstance(f, str) else json.dumps(f) for f in frames)
        async with self.http.post(self.url, data=body.encode()) as resp:
            return resp.status

    async def say(self, text: str, client_msg_id: str | None = None) -> str:
        cid = client_msg_id or uuid.uuid4().hex
        assert await self.send({"type": "message", "client_msg_id": cid, "text": text}) == 202
        return cid

    async def poll(self) -> tuple[int, str]:
        """One poll as the widget sends it: its status and its raw body."""
        async with self.http.get(f"{self.url}?after={self.after}") as resp:
            return resp.status, await resp.text()

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        """The next frame, polling for more while there is none."""
        async with asyncio.timeout(timeout):
            while not self._frames:
                assert self.closed is None, f"link closed: {self.closed}"
                status, body = await self.poll()
                assert status == 200, body
                head, *lines = body.split("\n")
                parsed = json.loads(head)
                self.after = parsed["last"]
                self.closed = parsed["closed"]
                self._frames.extend(json.loads(line) for line in lines)
            return self._frames.popleft()

    async def close(self) -> None:
        if self.link:
            async with self.http.post(f"{self.url}/close") as resp:
                assert resp.status == 204
        await self.http.close()
