"""A local server that follows Viber's REST bot API (developers.viber.com/docs/api/rest-bot-api):
``POST /pa/send_message`` with ``X-Viber-Auth-Token``, answering ``{"status", "status_message",
"message_token"}``, with injectable error statuses; it can also sign and deliver callbacks to a
webhook the way Viber does, with the official viberbot SDK computing the signature."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from viberbot import Api, BotConfiguration

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
"""The test bot's authentication token."""


@dataclass
class ViberPeer:
    token: str
    sent: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    """Status codes to answer the next send_message calls with, one per call."""
    media: dict[str, bytes] = field(default_factory=dict)
    server: TestServer | None = None
    _tokens: itertools.count[int] = field(default_factory=lambda: itertools.count(5_000_000_000))

    @property
    def base(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/pa"))

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/pa/send_message", self._send)
        app.router.add_get("/media/{name}", self._media)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    def sign(self, raw: bytes) -> str:
        """The signature Viber sends, computed by the official SDK (an independent check)."""
        sdk = Api(BotConfiguration(auth_token=self.token, name="Shop", avatar=""))
        return str(sdk._calculate_message_signature(raw))

    async def callback(self, webhook: str, body: dict[str, Any],
                       signature: str | None = None) -> tuple[int, str]:
        raw = json.dumps(body).encode()
        headers = {"X-Viber-Content-Signature": signature or self.sign(raw),
                   "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as http, http.post(webhook, data=raw,
                                                               headers=headers) as resp:
            return resp.status, await resp.text()

    async def _send(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Viber-Auth-Token") != self.token:
            return web.json_response({"status": 2, "status_message": "invalidAuthToken"})
        body = await request.json()
        if self.statuses:
            status = self.statuses.pop(0)
            names = {12: "Too many requests", 6: "receiverNotSubscribed"}
            return web.json_response({"status": status, "status_message": names.get(status, "")})
        if len(body.get("sender", {}).get("name", "")) > 28 or len(body.get("text", "")) > 7000:
            return web.json_response({"status": 3, "status_message": "badData"})
        self.sent.append(body)
        token = next(self._tokens)
        return web.json_response({"status": 0, "status_message": "ok", "message_token": token,
                                  "chat_hostname": "SN-CHAT-01_"})

    async def _media(self, request: web.Request) -> web.Response:
        data = self.media.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/jpeg")
