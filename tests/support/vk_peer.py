"""A local server that follows the VK API as the real vk_api library speaks it
(dev.vk.com/method, /api/bots-long-poll, /api/callback):

- ``POST /method/<name>`` with form values, answering ``{"response": …}`` or
  ``{"error": {"error_code", "error_msg"}}``; ``messages.send`` drops a repeated ``random_id`` and
  answers with the earlier message id, as VK does; errors can be injected per call;
- ``groups.getLongPollServer`` names ``/lp`` on this server, where ``a_check`` holds the request
  up to ``wait`` seconds for events, and injected ``failed`` answers can be given;
- ``/files/<name>`` serves users' files; ``callback`` posts an event to a webhook like VK;
- files for messages: ``photos.getMessagesUploadServer`` / ``docs.getMessagesUploadServer`` name
  ``/upload/photo`` / ``/upload/doc`` here, which take a multipart ``photo`` / ``file`` field and
  answer ``{server, photo, hash}`` / ``{file}``; ``photos.saveMessagesPhoto`` and ``docs.save``
  turn those into saved objects, whose ``photo<owner>_<id>`` / ``doc<owner>_<id>`` strings
  ``messages.send`` accepts as ``attachment`` (an unknown one is error 100).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

TOKEN = "vk1.a.community-token-0123456789abcdef"
GROUP = 218340211
SECRET = "Sh0pSecret"
CALLBACK = {
    "group_id": GROUP,
    "token": TOKEN,
    "mode": "callback",
    "confirmation": "c0nf1rm42",
    "secret": SECRET,
}
"""The test community's channel config in callback mode (``TOKEN``, ``GROUP``, ``SECRET``)."""
LONGPOLL = {"group_id": GROUP, "token": TOKEN, "mode": "longpoll", "poll_wait": 1}
"""The same community's channel config in long-poll mode."""
USER = 51234567
"""The VK user who writes to the community."""

ERRORS = {
    5: "User authorization failed: invalid access_token",
    100: "One of the parameters specified was missing or invalid",
    6: "Too many requests per second",
    9: "Flood control",
    901: "Can't send messages for users without permission",
}


@dataclass
class VkPeer:
    token: str
    group_id: int
    secret: str = ""
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    """Every method call, in order, with its form values."""
    sent: list[dict[str, str]] = field(default_factory=list)
    """messages.send calls that made a new message (a repeated random_id makes none)."""
    errors: list[int] = field(default_factory=list)
    """Error codes for the next messages.send calls, one per call."""
    lp_failures: list[int] = field(default_factory=list)
    """``failed`` values for the next a_check requests, one per request."""
    checks: list[dict[str, str]] = field(default_factory=list)
    method_errors: dict[str, list[int]] = field(default_factory=dict)
    """Error codes for the next calls of other methods, by method name, one per call."""
    lost_replies: int = 0
    """The next this-many messages.send calls make their message but answer HTTP 502, as when
    VK took a message and the answer got lost."""
    uploads: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    """Every file posted to an upload url: (photo|doc, form field, file name, bytes)."""
    upload_errors: list[int] = field(default_factory=list)
    """HTTP statuses for the next upload posts, one per post."""
    saved: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    """Saved photos and documents by attachment string: (file name, bytes)."""
    _pending: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    _media_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(457239001))
    files: dict[str, bytes] = field(default_factory=dict)
    server: TestServer | None = None
    _events: list[dict[str, Any]] = field(default_factory=list)
    _new_event: asyncio.Event = field(default_factory=asyncio.Event)
    _by_random_id: dict[str, int] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(7001))
    _keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _event_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    upload_base: str = ""
    """Where the upload urls point, when not here: VK's upload servers are hosts of their
    own, on their own links."""
    key: str = ""
    acked: int = 0
    """Events before this index were received; a new key or ts starts here (no loss)."""

    @property
    def base(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def url(self, path: str) -> str:
        return self.base + path

    def method_calls(self, name: str) -> list[dict[str, str]]:
        return [values for method, values in self.calls if method == name]

    async def start(self) -> None:
        app = web.Application(client_max_size=200 * 1024 * 1024)  # VK takes documents of 200 MB
        app.router.add_post("/method/{name}", self._method)
        app.router.add_get("/lp", self._check)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_post("/upload/{kind}", self._upload)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        self._new_event.set()
        if self.server is not None:
            await self.server.close()

    # --- what VK sends us --------------------------------------------------------------------

    def message_new(
        self,
        peer_id: int,
        cmid: int,
        text: str = "",
        attachments: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A message_new event (API 5.199 shape) from user ``peer_id``."""
        message = {
            "date": 1732330000,
            "from_id": peer_id,
            "id": 0,
            "out": 0,
            "attachments": attachments or [],
            "conversation_message_id": cmid,
            "fwd_messages": [],
            "important": False,
            "is_hidden": False,
            "peer_id": peer_id,
            "random_id": 0,
            "text": text,
        }
        return {
            "group_id": self.group_id,
            "type": "message_new",
            "v": "5.199",
            "event_id": f"ev{next(self._event_ids):06d}{cmid}",
            "secret": self.secret,
            "object": {"message": message, "client_info": {"keyboard": True, "lang_id": 0}},
        }

    def message_read(self, peer_id: int, read_message_id: int) -> dict[str, Any]:
        """A message_read event: user ``peer_id`` read our messages up to ``read_message_id``."""
        return {
            "group_id": self.group_id,
            "type": "message_read",
            "v": "5.199",
            "event_id": f"rd{next(self._event_ids):06d}{read_message_id}",
            "secret": self.secret,
            "object": {"from_id": peer_id, "peer_id": peer_id, "read_message_id": read_message_id},
        }

    def id_of(self, values: dict[str, str]) -> int:
        """The VK message id a messages.send call made (or was answered with)."""
        return self._by_random_id[values["random_id"]]

    def attachments_sent(self) -> list[list[tuple[str, bytes]]]:
        """For each new message, the (file name, bytes) of its attachments, in order."""
        return [
            [self.saved[a] for a in values["attachment"].split(",")]
            for values in self.sent
            if values.get("attachment")
        ]

    def message_edit(self, sent: dict[str, Any], text: str) -> dict[str, Any]:
        """The user changes the text of the message of event ``sent``: a message_edit event,
        whose object is the message itself (message_new wraps it)."""
        message = {**sent["object"]["message"], "text": text, "update_time": 1732330077}
        return {
            "group_id": self.group_id,
            "type": "message_edit",
            "v": "5.199",
            "event_id": f"ev{next(self._event_ids):06d}e{message['conversation_message_id']}",
            "secret": self.secret,
            "object": message,
        }

    def push(self, event: dict[str, Any]) -> None:
        """Make an event available to long polling."""
        self._events.append(event)
        self._new_event.set()

    async def callback(
        self, webhook: str, body: dict[str, Any], retry: int | None = None
    ) -> tuple[int, str]:
        """POST an event the way the Callback API does."""
        headers = {"Content-Type": "application/json"}
        if retry is not None:
            headers["X-Retry-Counter"] = str(retry)
        async with (
            aiohttp.ClientSession() as http,
            http.post(webhook, data=json.dumps(body), headers=headers) as resp,
        ):
            return resp.status, await resp.text()

    # --- the API -----------------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        values = {k: str(v) for k, v in (await request.post()).items()}
        self.calls.append((name, values))
        if values.get("access_token") != self.token:
            return self._error(5)
        if name == "groups.getLongPollServer":
            self.key = f"key{next(self._keys)}"
            return web.json_response(
                {"response": {"key": self.key, "server": self.url("/lp"), "ts": str(self.acked)}}
            )
        if name == "messages.send":
            return self._send(values)
        if name == "groups.getById":  # a community token names its own community
            group = {
                "id": self.group_id,
                "name": "Shop",
                "screen_name": f"club{self.group_id}",
                "type": "group",
                "is_closed": 0,
            }
            return web.json_response({"response": {"groups": [group], "profiles": []}})
        if self.method_errors.get(name):
            return self._error(self.method_errors[name].pop(0))
        if name == "photos.getMessagesUploadServer":
            return web.json_response(
                {
                    "response": {
                        "album_id": -64,
                        "upload_url": (self.upload_base or self.base) + "/upload/photo",
                        "user_id": 0,
                        "group_id": self.group_id,
                    }
                }
            )
        if name == "docs.getMessagesUploadServer":
            if values.get("type", "doc") != "doc" or "peer_id" not in values:
                return self._error(100)
            upload_url = (self.upload_base or self.base) + "/upload/doc"
            return web.json_response({"response": {"upload_url": upload_url}})
        if name == "photos.saveMessagesPhoto":
            return self._save("photo", values.get("photo", ""), values)
        if name == "docs.save":
            return self._save("doc", values.get("file", ""), values)
        return self._error(3)

    async def _upload(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if self.upload_errors:
            return web.Response(status=self.upload_errors.pop(0), text="upload failed")
        form = await request.post()
        part = form.get("photo" if kind == "photo" else "file")
        if not isinstance(part, web.FileField):
            return web.json_response({"error": "no file"})
        data = part.file.read()
        self.uploads.append((kind, part.name, part.filename, data))
        token = f"{kind}-upload-{len(self.uploads)}"
        self._pending[token] = (kind, part.filename, data)
        if kind == "photo":
            return web.json_response({"server": 852136, "photo": token, "hash": f"h{token}"})
        return web.json_response({"file": token})

    def _save(self, kind: str, token: str, values: dict[str, str]) -> web.Response:
        pending = self._pending.pop(token, None)
        if pending is None or pending[0] != kind:
            return self._error(100)
        if kind == "photo" and values.get("hash") != f"h{token}":
            return self._error(100)
        media_id, owner = next(self._media_ids), -self.group_id
        self.saved[f"{kind}{owner}_{media_id}"] = (pending[1], pending[2])
        item = {"id": media_id, "owner_id": owner, "date": 1732330000}
        if kind == "photo":
            return web.json_response({"response": [item | {"album_id": -64, "sizes": []}]})
        doc = item | {"title": values.get("title") or pending[1], "size": len(pending[2])}
        return web.json_response({"response": {"type": "doc", "doc": doc}})

    def _send(self, values: dict[str, str]) -> web.Response:
        if self.errors:
            return self._error(self.errors.pop(0))
        if len(values.get("message", "")) > 9000:
            return self._error(914)
        if not values.get("message") and not values.get("attachment"):
            return self._error(100)
        if any(a not in self.saved for a in values.get("attachment", "").split(",") if a):
            return self._error(100)
        rid = values.get("random_id", "0")
        if rid != "0" and rid in self._by_random_id:
            return web.json_response({"response": self._by_random_id[rid]})
        message_id = next(self._ids)
        if rid != "0":
            self._by_random_id[rid] = message_id
        self.sent.append(values)
        if self.lost_replies:
            self.lost_replies -= 1
            return web.Response(status=502, text="Bad Gateway")
        return web.json_response({"response": message_id})

    def _error(self, code: int) -> web.Response:
        return web.json_response(
            {
                "error": {
                    "error_code": code,
                    "error_msg": ERRORS.get(code, f"error {code}"),
                    "request_params": [],
                }
            }
        )

    async def _check(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.checks.append(query)
        if self.lp_failures:
            failed = self.lp_failures.pop(0)
            return web.json_response({"failed": failed, "ts": str(self.acked)})
        if query.get("key") != self.key:
            return web.json_response({"failed": 2})
        ts = int(query.get("ts", "0"))
        self.acked = max(self.acked, ts)  # asking from ts confirms every event before it
        if ts >= len(self._events):
            self._new_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_event.wait(), float(query.get("wait", "1")))
        return web.json_response({"ts": str(len(self._events)), "updates": self._events[ts:]})

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/jpeg")
