"""API tokens on the REST API: a token works like its admin's session within its scopes,
needs no browser origin, is stored only as a hash, shows its last use, and stops at revoke."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.db import SessionMaker
from core.db.integrations_schema import ApiToken
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.console_world import logged_in
from tests.support.hubclient import VisitorClient

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]


class TokenClient:
    """A non-browser integration: a bearer token, no cookie, no Origin header."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, f"{self.base}{path}", json=body) as resp:
            return resp.status, await resp.json() if resp.status != 204 else None


async def test_a_token_works_within_its_scopes_until_revoked(hub: str, db: SessionMaker) -> None:
    admin = await logged_in(hub, "admin")
    visitor = VisitorClient(hub)
    _, reader = await admin.call(
        "POST", "/api/admin/tokens", {"name": "reporting", "scopes": ["dialogs:read"]}
    )
    _, sender = await admin.call(
        "POST", "/api/admin/tokens", {"name": "bot", "scopes": ["dialogs:read", "messages:send"]}
    )
    reading = TokenClient(hub, reader["value"])
    sending = TokenClient(hub, sender["value"])
    try:
        await visitor.connect()
        await visitor.say("Hello there")
        async with asyncio.timeout(10):
            while not (await reading.call("GET", "/api/dialogs"))[1]["dialogs"]:
                await asyncio.sleep(0.05)
        _, listed = await reading.call("GET", "/api/dialogs")
        dialog_id = listed["dialogs"][0]["id"]
        reply = {"text": "We are on it", "client_msg_id": uuid.uuid4().hex}
        path = f"/api/dialogs/{dialog_id}/messages"
        assert (await reading.call("POST", path, reply))[0] == 403
        assert (await reading.call("GET", "/api/stats/summary"))[0] == 403
        assert (await reading.call("GET", "/api/admin/tokens"))[0] == 403
        assert (await reading.call("POST", "/api/logout"))[0] == 403
        # No Origin header and still accepted: a token is not an ambient browser credential.
        status, answer = await sending.call("POST", path, reply)
        assert status == 202, answer
        assert (await visitor.receive_until("message", text="We are on it"))["text"]
        _, tokens = await admin.call("GET", "/api/admin/tokens")
        shown = {t["name"]: t for t in tokens["tokens"]}
        assert shown["reporting"]["last_used_at"] is not None
        assert shown["reporting"]["prefix"] == reader["value"][:8]
        assert reader["value"] not in str(tokens)
        status, _ = await admin.call("POST", f"/api/admin/tokens/{reader['token']['id']}/revoke")
        assert status == 200
        status, refused = await reading.call("GET", "/api/dialogs")
        assert (status, refused["error"]) == (401, "unknown or revoked API token")
        assert (await sending.call("GET", "/api/dialogs"))[0] == 200
        assert (await TokenClient(hub, "olt_made-up").call("GET", "/api/dialogs"))[0] == 401
    finally:
        for client in (reading, sending):
            await client.http.close()
        await visitor.close()
        await admin.close()
    async with db() as session:
        stored = (await session.scalars(select(ApiToken.token_hash))).all()
    assert reader["value"] not in stored and sender["value"] not in stored
    assert all(len(h) == 64 for h in stored)
