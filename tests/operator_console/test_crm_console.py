"""The console's CRM endpoints on a running hub: the client card, access checks, duplicates,
merge and unmerge, required fields with points, and fill-in tasks."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import select

from config.settings import Settings
from core import streams
from core.db import make_engine, make_sessionmaker
from core.db.schema import Channel, Line, Operator
from core.envelope import ClientHints, InboundMessage
from operator_console.auth import hash_password
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient


async def _setup(settings: Settings) -> int:
    """An SMS-like channel no connector runs, and an operator Bob on no line."""
    engine = make_engine(settings.effective_database_url)
    async with make_sessionmaker(engine)() as s, s.begin():
        line = await s.scalar(select(Line).order_by(Line.id))
        assert line is not None
        channel = Channel(line_id=line.id, kind="sms", key="sms", name="SMS")
        s.add(channel)
        s.add(
            Operator(
                login="bob",
                name="Bob",
                role="operator",
                password_hash=hash_password("bob-password-1"),
            )
        )
        await s.flush()
        channel_id = channel.id
    await engine.dispose()
    return channel_id


async def _say(settings: Settings, channel_id: int, user: str, hints: ClientHints) -> None:
    redis = aioredis.from_url(settings.redis_url)
    shard = streams.shard_of(channel_id, user, settings.inbound_shards)
    await redis.xadd(
        streams.inbound(shard),
        {
            "data": InboundMessage(
                channel_id=channel_id,
                external_user_id=user,
                external_message_id=f"{user}-1",
                text="hello",
                client_name=hints.name,
                hints=hints,
            ).model_dump_json()
        },
    )
    await redis.aclose()


async def _until(client: OperatorClient, path: str, ok: Any) -> Any:
    async with asyncio.timeout(10):
        while True:
            status, body = await client.call("GET", path)
            if status == 200 and ok(body):
                return body
            await asyncio.sleep(0.05)


async def test_client_card_duplicates_merge_unmerge_and_access(
    hub: str, settings: Settings
) -> None:
    channel_id = await _setup(settings)
    await _say(settings, channel_id, "u1", ClientHints(name="Иван Петров", phone="+79161234567"))
    await _say(settings, channel_id, "u2", ClientHints(name="Петров Иван", phone="+79161234567"))
    admin, bob = OperatorClient(hub), OperatorClient(hub)
    try:
        await admin.login("admin", ADMIN_PASSWORD)
        await bob.login("bob", "bob-password-1")
        dialogs = await _until(admin, "/api/dialogs?status=all", lambda b: len(b["dialogs"]) == 2)
        first, second = sorted(d["id"] for d in dialogs["dialogs"])
        # The sink writes a client's hints and its dialog's lead in separate transactions when
        # they arrive in separate reads: the second lead must exist before the merge, or the
        # dialog joins the main client's lead and the merge has only one lead to move.
        await _until(admin, f"/api/crm/dialogs/{second}/client", lambda b: b["client"]["leads"])
        card = (
            await _until(
                admin,
                f"/api/crm/dialogs/{first}/client",
                # Both clients' hints are processed once the phone shows up as a reason.
                lambda b: (
                    b["client"]["leads"]
                    and any("phone" in d["fields"] for d in b["client"]["duplicates"])
                ),
            )
        )["client"]
        assert card["phones"] == [{"value": "+79161234567", "verified": False}]
        duplicate = card["duplicates"][0]
        assert set(duplicate["fields"]) == {"phone", "name"} and duplicate["reasons"]
        # Bob has no dialog of this client: the card does not exist for him.
        status, _ = await bob.call("GET", f"/api/crm/clients/{card['id']}")
        assert status == 404
        status, _ = await bob.call(
            "POST", "/api/crm/merges", {"client_id": card["id"], "other_id": duplicate["other_id"]}
        )
        assert status == 404

        status, body = await admin.call(
            "POST", "/api/crm/merges", {"client_id": card["id"], "other_id": duplicate["other_id"]}
        )
        assert status == 201, body
        merge = body["merge"]
        status, main = await admin.call("GET", f"/api/crm/clients/{merge['main_id']}")
        assert len(main["client"]["leads"]) == 2 and len(main["client"]["identities"]) == 2
        status, body = await admin.call("POST", f"/api/crm/merges/{merge['id']}/undo")
        assert status == 200, body
        status, body = await admin.call("POST", f"/api/crm/merges/{merge['id']}/undo")
        assert status == 409
        status, dup = await admin.call("GET", f"/api/crm/clients/{merge['dup_id']}")
        assert len(dup["client"]["identities"]) == 1 and dup["client"]["merged_into_id"] is None

        status, _ = await admin.call(
            "POST",
            "/api/crm/not-duplicates",
            {"client_id": card["id"], "other_id": duplicate["other_id"]},
        )
        assert status == 204
        status, again = await admin.call("GET", f"/api/crm/clients/{card['id']}")
        assert again["client"]["duplicates"] == []
    finally:
        await admin.close()
        await bob.close()


async def test_required_fields_points_and_fill_in_tasks(hub: str, settings: Settings) -> None:
    channel_id = await _setup(settings)
    await _say(settings, channel_id, "u1", ClientHints(name="Anna"))
    admin, bob = OperatorClient(hub), OperatorClient(hub)
    try:
        me = await admin.login("admin", ADMIN_PASSWORD)
        await bob.login("bob", "bob-password-1")
        dialogs = await _until(admin, "/api/dialogs?status=all", lambda b: len(b["dialogs"]) == 1)
        dialog = dialogs["dialogs"][0]
        card = (
            await _until(
                admin, f"/api/crm/dialogs/{dialog['id']}/client", lambda b: b["client"]["leads"]
            )
        )["client"]
        status, _ = await bob.call(
            "PUT", f"/api/crm/lines/{dialog['line_id']}/required", {"fields": {"phone": 10}}
        )
        assert status == 403
        status, body = await admin.call("GET", "/api/crm/lines/987654/required")
        assert (status, body["error"]) == (404, "no such line"), body
        status, body = await admin.call(
            "PUT",
            f"/api/crm/lines/{dialog['line_id']}/required",
            {"fields": {"phone": 10, "company": 5, "bogus": 1}},
        )
        assert status == 400
        status, body = await admin.call(
            "PUT",
            f"/api/crm/lines/{dialog['line_id']}/required",
            {"fields": {"phone": 10, "company": 5}},
        )
        assert status == 200
        status, check = await admin.call(
            "POST",
            f"/api/crm/lines/{dialog['line_id']}/checks",
            {"operator_ids": [me["operator"]["id"]]},
        )
        assert status == 201
        assert check["operators"] == [{"operator_id": me["operator"]["id"], "total": 1, "done": 0}]
        status, tasks = await admin.call("GET", "/api/crm/tasks")
        assert tasks["tasks"][0]["missing"] == ["phone", "company"]

        status, body = await admin.call(
            "PATCH", f"/api/crm/clients/{card['id']}", {"add_phone": "not a phone"}
        )
        assert status == 400
        status, body = await admin.call(
            "PATCH",
            f"/api/crm/clients/{card['id']}",
            {"add_phone": "+7 916 123 45 67", "company": "Romashka"},
        )
        assert status == 200 and body["points_earned"] == 15
        assert body["client"]["missing"] == []
        status, body = await admin.call(
            "PATCH", f"/api/crm/clients/{card['id']}", {"company": "Romashka LLC"}
        )
        assert body["points_earned"] == 0  # a field earns its points once
        status, progress = await admin.call("GET", f"/api/crm/checks/{check['check_id']}")
        assert progress["operators"][0]["done"] == 1
        status, points = await admin.call("GET", "/api/crm/points")
        assert points["points"] == [{"operator_id": me["operator"]["id"], "points": 15}]
    finally:
        await admin.close()
        await bob.close()
