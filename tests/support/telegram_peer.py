"""A local server that follows the Telegram Bot API (core.telegram.org/bots/api) closely enough
for aiogram: ``/bot<token>/<method>`` answering ``{"ok": …, "result" | "error_code",
"description", "parameters"}``, getUpdates with offset confirmation and long polling, getFile and
``/file/bot<token>/<path>`` downloads, and injectable 429s with ``retry_after``; setWebhook
(with its ``secret_token``), deleteWebhook and getWebhookInfo (with an injectable last error);
every call is recorded in ``calls``, and calls with an unknown token in ``refused``."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT_ID = 777000111
TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvw"
WEBHOOK = {"token": TOKEN, "mode": "webhook", "webhook_secret": "s3cret-1"}
"""The test bot's channel config in webhook mode."""


@dataclass
class TelegramPeer:
    """The fake Bot API: what bots called, and what users did."""

    token: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    """File paths that getFile names but the file server answers 404 for (expired)."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    call_times: list[float] = field(default_factory=list)
    """When each of ``calls`` arrived (``time.monotonic()``), in the same order."""
    offsets: list[int | None] = field(default_factory=list)
    throttle: dict[str, list[int]] = field(default_factory=dict)
    """method -> retry_after values to answer the next calls with, one per call."""
    webhook_url: str = ""
    webhook_secret: str = ""
    """The ``secret_token`` of the last setWebhook: every webhook request must carry it."""
    webhook_error: str = ""
    """What getWebhookInfo reports as ``last_error_message`` (with a ``last_error_date``)."""
    refused: list[tuple[str, float]] = field(default_factory=list)
    """Calls with a token this server does not know: (method, ``time.monotonic()``)."""
    server: TestServer | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5000))
    _new: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    def user_message(self, chat_id: int, text: str = "", **extra: Any) -> dict[str, Any]:
        """A user writes to the bot: the update the Bot API would deliver."""
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "from": {"id": chat_id, "is_bot": False, "first_name": "Ivan", "language_code": "en"},
            "chat": {"id": chat_id, "first_name": "Ivan", "type": "private"},
            "date": int(time.time()),
            **extra,
        }
        if text:
            message["text"] = text
        update = {"update_id": next(self._update_ids), "message": message}
        self.updates.append(update)
        self._new.set()
        return update

    def user_edit(self, sent: dict[str, Any], text: str) -> dict[str, Any]:
        """The user changes the text of the message of update ``sent``: the update the Bot
        API would deliver (``edited_message``, with ``edit_date``)."""
        message = {**sent["message"], "text": text, "edit_date": int(time.time())}
        update = {"update_id": next(self._update_ids), "edited_message": message}
        self.updates.append(update)
        self._new.set()
        return update

    def add_file(self, file_id: str, data: bytes, path: str) -> None:
        self.files[file_id] = (path, data)

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def times(self, method: str = "sendMessage") -> list[float]:
        """When each call of ``method`` arrived, in order."""
        return [
            t for (name, _p), t in zip(self.calls, self.call_times, strict=True) if name == method
        ]

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            self.refused.append((method, time.monotonic()))
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        arrived = time.monotonic()
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            params[key] = value.file.read() if isinstance(value, web.FileField) else value
        self.calls.append((method, params))
        self.call_times.append(arrived)
        waits = self.throttle.get(method)
        if waits:
            after = waits.pop(0)
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {after}",
                    "parameters": {"retry_after": after},
                },
                status=429,
            )
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Shop", "username": "shop_bot"}

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = self.webhook_secret = ""
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        secret = str(params.get("secret_token", ""))
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: secret token contains unallowed characters",
                },
                status=400,
            )
        self.webhook_url = str(params.get("url", ""))
        self.webhook_secret = secret
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook_error:
            info |= {
                "last_error_date": int(time.time()) - 60,
                "last_error_message": self.webhook_error,
            }
        return info

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params["offset"]) if "offset" in params else None
        self.offsets.append(offset)
        if offset is not None:
            # "An update is considered confirmed as soon as getUpdates is called with an
            # offset higher than its update_id."
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._new.clear()
            timeout = float(params.get("timeout", 0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), timeout)
        limit = int(params.get("limit", 100))
        return self.updates[:limit]

    def _message(self, chat_id: Any, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._ids),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Shop"},
            "chat": {"id": int(chat_id), "type": "private", "first_name": "Ivan"},
            "date": int(time.time()),
            **content,
        }

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        text = str(params.get("text", ""))
        if not 1 <= len(text) <= 4096:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"},
                status=400,
            )
        if int(params["chat_id"]) == 403:
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: bot was blocked by the user",
                },
                status=403,
            )
        return self._message(params["chat_id"], text=text)

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        size = len(params["photo"])
        photo = [
            {"file_id": "p1", "file_unique_id": "u1", "width": 1, "height": 1, "file_size": size}
        ]
        return self._message(params["chat_id"], photo=photo)

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        doc = {"file_id": "d1", "file_unique_id": "u2", "file_size": len(params["document"])}
        return self._message(params["chat_id"], document=doc)

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        known = self.files.get(str(params.get("file_id")))
        if known is None:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"},
                status=400,
            )
        path, data = known
        return {
            "file_id": params["file_id"],
            "file_unique_id": "x" + path,
            "file_size": len(data),
            "file_path": path,
        }

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized()
        for path, data in self.files.values():
            if path == request.match_info["path"] and path not in self.gone:
                return web.Response(body=data)
        raise web.HTTPNotFound()
