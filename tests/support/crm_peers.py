"""Local peers for the CRM adapters: a Bitrix24 REST portal and a webhook receiver.

The Bitrix24 peer follows the REST documentation for the methods the adapter uses: inbound
webhook URLs ``/rest/<user>/<token>/<method>.json``, JSON bodies, answers ``{"result": ...,
"time": {...}}`` or HTTP 400 ``{"error", "error_description"}``, and ``crm.duplicate.findbycomm``
answering ``[]`` when nothing matches and ``{"LEAD": [ids]}`` otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from crm_sink.webhook import check_signature

TOKEN = "1/s3cr3t"


@dataclass
class Bitrix24Peer:
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/rest/{user}/{token}/{method}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        if f"{request.match_info['user']}/{request.match_info['token']}" != TOKEN:
            return _error(401, "INVALID_CREDENTIALS", "Invalid request credentials")
        method = request.match_info["method"].removesuffix(".json")
        self.calls.append(method)
        params = await request.json()
        if method == "crm.lead.add":
            lead_id = len(self.leads) + 1
            self.leads[lead_id] = dict(params["fields"])
            return _ok(lead_id)
        if method == "crm.lead.list":
            wanted = params.get("filter", {})
            found = [
                {"ID": str(i)}
                for i, f in self.leads.items()
                if all(f.get(k) == v for k, v in wanted.items())
            ]
            return _ok(found)
        if method == "crm.duplicate.findbycomm":
            if params.get("type") not in ("PHONE", "EMAIL") or not params.get("values"):
                return _error(400, "", "Communication type is not defined")
            ids = [
                i
                for i, f in self.leads.items()
                if {c["VALUE"] for c in f.get(params["type"], [])} & set(params["values"])
            ]
            return _ok({"LEAD": ids} if ids else [])
        if method == "crm.timeline.comment.add":
            fields = params["fields"]
            if int(fields["ENTITY_ID"]) not in self.leads or not fields.get("COMMENT"):
                return _error(400, "", "Entity not found")
            self.comments.append(fields)
            return _ok(len(self.comments))
        return _error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")


def _ok(result: Any) -> web.Response:
    now = time.time()
    return web.json_response({"result": result, "time": {"start": now, "finish": now}})


def _error(status: int, code: str, description: str) -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)


@dataclass
class WebhookReceiver:
    secret: bytes
    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.read()
        if not check_signature(
            self.secret,
            request.headers["X-Openlines-Timestamp"],
            body,
            request.headers["X-Openlines-Signature"],
        ):
            return web.Response(status=401, text="bad signature")
        if self.attempts <= self.fail_first:
            return web.Response(status=503, text="busy")
        self.received.append(json.loads(body))
        return web.Response(status=204)


@asynccontextmanager
async def serve(peer: Bitrix24Peer | WebhookReceiver) -> AsyncIterator[str]:
    server = TestServer(peer.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
