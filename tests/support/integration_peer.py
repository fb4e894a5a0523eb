"""A local receiver of Openlines event webhooks: checks every signature, answers 500 to the
first tries of each event when told to, and records what it accepted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from operator_console.integrations.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    check_signature,
)


class WebhookPeer:
    """Answers 500 to the first ``fail_first`` tries of each event id, then 200."""

    def __init__(self, fail_first: int = 0, flood_bytes: int = 0) -> None:
        self.secret = ""
        self.fail_first = fail_first
        self.flood_bytes = flood_bytes
        """When set, a 200 whose body streams this many bytes of "x", without a length."""
        self.flooded = 0
        """How many of them were written before the hub went away."""
        self.tries: Counter[str] = Counter()
        self.accepted: dict[str, dict[str, Any]] = {}
        self.bad_signatures = 0
        self.tried_at: dict[str, list[float]] = {}
        app = web.Application()
        app.router.add_post("/hook", self._receive)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        """Where the hub should POST."""
        return str(self.server.make_url("/hook"))

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        header = request.headers.get(SIGNATURE_HEADER, "")
        if not check_signature(self.secret, header, body, time.time()):
            self.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        event = json.loads(body)
        assert event["id"] == request.headers[EVENT_ID_HEADER]
        self.tries[event["id"]] += 1
        self.tried_at.setdefault(event["id"], []).append(time.monotonic())
        if self.tries[event["id"]] <= self.fail_first:
            return web.Response(status=500, text="receiver down for a moment")
        self.accepted[event["id"]] = event
        if self.flood_bytes:
            return await self._flood(request)
        return web.Response(status=200, text="thanks")

    async def _flood(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        block = b"x" * 65536
        with contextlib.suppress(ConnectionError):
            while self.flooded < self.flood_bytes:
                await response.write(block)
                self.flooded += len(block)
            await response.write_eof()
        return response

    async def wait_for(self, kind: str, timeout: float = 15) -> dict[str, Any]:
        """The first accepted event of ``kind``, waiting for it."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.accepted.values():
                    if event["type"] == kind:
                        return event
                await asyncio.sleep(0.05)
