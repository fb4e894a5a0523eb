"""Consecutive closes in one batch run together (``router.actions.do_close_run``): each is
handled as a close alone would be, in order, with what it tells the client's channel, the CRM
sink and the console, and every operator it frees takes a waiting dialog."""

from __future__ import annotations

from typing import cast

import pytest
import redis.asyncio
from sqlalchemy import select

from core import streams
from core.bus import Bus, Delivery
from core.db.schema import Client, ClientIdentity, Dialog, Operator
from core.envelope import (
    CloseDialog,
    DialogClosedForCrm,
    DialogClosedNotice,
    DialogEvent,
    Envelope,
    InboundMessage,
    PresenceChange,
    decode,
)
from router.worker import Router
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.router_db import command, demo_ids, seeded_database

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]

MISSING = 999_999


async def _entries(client: redis.asyncio.Redis, stream: str) -> list[Envelope]:
    raw = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(stream))
    return [decode(data[b"data"]) for _entry_id, data in raw]


async def test_a_batch_of_closes_closes_each_in_order_and_routes_the_freed_room(
    db_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine, sessions = await seeded_database(db_url)
    channel_id, admin_id = await demo_ids(sessions)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        async with sessions.begin() as session:
            admin = await session.get(Operator, admin_id)
            assert admin is not None
            admin.max_open_dialogs = 2
        router = Router(sessions, Bus(client))
        await router.handle([command(PresenceChange(operator_id=admin_id, status="online"))])
        for n in range(4):
            first = InboundMessage(channel_id=channel_id, external_user_id=f"visitor-{n}",
                                   external_message_id=f"m-{n}", text=f"question {n}")  # fmt: skip
            await router.handle([Delivery(streams.inbound(0), f"{n}-1", first)])
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(Dialog.id, Dialog.status, ClientIdentity.external_id, Client.id)
                    .join(ClientIdentity, ClientIdentity.id == Dialog.identity_id)
                    .join(Client, Client.id == Dialog.client_id)
                    .order_by(Dialog.id)
                )
            ).all()
        # The admin holds two; the other two wait.
        assert [r.status for r in rows] == ["open", "open", "waiting", "waiting"]
        held, waiting = rows[:2], rows[2:]
        await client.delete(streams.EVENTS, streams.CRM, streams.outbound("webchat"))

        closes = [CloseDialog(dialog_id=held[0].id, operator_id=admin_id),
                  CloseDialog(dialog_id=MISSING, operator_id=admin_id),
                  CloseDialog(dialog_id=held[1].id, operator_id=admin_id)]  # fmt: skip
        await router.handle([command(c) for c in closes])

        async with sessions() as session:
            status = dict((await session.execute(select(Dialog.id, Dialog.status))).all())
            operator = dict((await session.execute(select(Dialog.id, Dialog.operator_id))).all())
        assert [status[r.id] for r in held] == ["closed", "closed"]
        # Both freed places went to the queue, oldest first.
        assert [(status[r.id], operator[r.id]) for r in waiting] == [("open", admin_id)] * 2
        assert f"close names dialog {MISSING}, which does not exist" in caplog.text

        notices = await _entries(client, streams.outbound("webchat"))
        told = [
            (n.dialog_id, n.external_user_id) for n in notices if isinstance(n, DialogClosedNotice)
        ]
        assert told == [(r.id, r.external_id) for r in held]
        crm = await _entries(client, streams.CRM)
        attached = [(e.dialog_id, e.client_id) for e in crm if isinstance(e, DialogClosedForCrm)]
        assert attached == [(r.id, r[3]) for r in held]
        events = await _entries(client, streams.EVENTS)
        shown = [e.dialog for e in events if isinstance(e, DialogEvent)]
        closed = [d.id for d in shown if d.status == "closed"]
        assert closed == [r.id for r in held]
        assert {d.id for d in shown if d.status == "open"} >= {r.id for r in waiting}
    finally:
        await client.aclose()
        await engine.dispose()
