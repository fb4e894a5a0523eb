"""A local server that follows Viber's REST bot API (developers.viber.com/docs/api/rest-bot-api):
``POST /pa/send_message`` with ``X-Viber-Auth-Token``, answering ``{"status", "status_message",
"message_token"}``, with injectable error statuses; ``set_webhook`` (checking the URL with a
signed ``webhook`` event first, as Viber does) and ``get_account_info``, both recorded in
``calls``; it can also sign and deliver callbacks to a webhook the way Viber does, with the
official viberbot SDK computing the signature."""

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
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Every set_webhook and get_account_info call, in order, with its body."""
    webhook_checks: list[tuple[str, int]] = field(default_factory=list)
    """The ``webhook`` events set_webhook sent to check a URL: (url, the status it answered)."""
    webhook: str = ""
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
        app.router.add_post("/pa/set_webhook", self._set_webhook)
        app.router.add_post("/pa/get_account_info", self._account_info)
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

    async def callback(
        self, webhook: str, body: dict[str, Any], signature: str | None = None
    ) -> tuple[int, str]:
        raw = json.dumps(body).encode()
        headers = {
            "X-Viber-Content-Signature": signature or self.sign(raw),
            "Content-Type": "application/json",
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(webhook, data=raw, headers=headers) as resp,
        ):
            return resp.status, await resp.text()

    def method_calls(self, name: str) -> list[dict[str, Any]]:
        return [body for method, body in self.calls if method == name]

    async def _set_webhook(self, request: web.Request) -> web.Response:
        """As Viber does: an empty url removes the webhook; any other is checked first with a
        signed ``webhook`` event, and set only when it answers 200."""
        body = await request.json()
        self.calls.append(("set_webhook", body))
        if request.headers.get("X-Viber-Auth-Token") != self.token:
            return web.json_response({"status": 2, "status_message": "invalidAuthToken"})
        url = str(body.get("url", ""))
        if not url:
            self.webhook = ""
            return web.json_response({"status": 0, "status_message": "ok"})
        check = {
            "event": "webhook",
            "timestamp": 1732330000000,
            "chat_hostname": "SN-CHAT-01_",
            "message_token": next(self._tokens),
        }
        status, _text = await self.callback(url, check)
        self.webhook_checks.append((url, status))
        if status != 200:
            return web.json_response({"status": 1, "status_message": "invalidUrl"})
        self.webhook = url
        return web.json_response(
            {"status": 0, "status_message": "ok", "event_types": body.get("event_types", [])}
        )

    async def _account_info(self, request: web.Request) -> web.Response:
        self.calls.append(("get_account_info", {}))
        if request.headers.get("X-Viber-Auth-Token") != self.token:
            return web.json_response({"status": 2, "status_message": "invalidAuthToken"})
        return web.json_response(
            {
                "status": 0,
                "status_message": "ok",
                "id": "pa:75346594",
                "name": "Shop",
                "uri": "shop",
                "webhook": self.webhook,
            }
        )

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
        return web.json_response(
            {
                "status": 0,
                "status_message": "ok",
                "message_token": token,
                "chat_hostname": "SN-CHAT-01_",
            }
        )

    async def _media(self, request: web.Request) -> web.Response:
        data = self.media.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/jpeg")
