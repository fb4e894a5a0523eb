"""The router stores each dialog's statistics figures (``core.dialog_figures``) in the batch
that defines them: the local start when the dialog opens, the seconds to the first answer (in
all and in working time) when the operator replies, the duration when it closes, none again
when it is reopened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker
from core.db.rollup_schema import SUMMED
from core.db.schema import Channel, Dialog, Line, Operator
from core.envelope import CloseDialog, InboundMessage, OperatorReply, ReopenDialog, RouterInput
from router.worker import Router
from tests.support.rollup_check import checked_rollup
from tests.support.router_db import command, seeded_database

WEEKDAYS = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
OPENED = datetime(2030, 1, 7, 7, 50, tzinfo=UTC)
"""Monday 08:50 in Berlin, ten minutes before the line opens."""


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Hub:
    sessions: SessionMaker
    router: Router
    clock: Clock
    channel_id: int
    admin_id: int
    engine: AsyncEngine


@pytest.fixture
async def hub(db_url: str, redis_url: str) -> AsyncIterator[Hub]:
    engine, sessions = await seeded_database(db_url)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Line).values(timezone="Europe/Berlin", settings={"schedule": {"week": WEEKDAYS}})
        )
        channel_id = await session.scalar(select(Channel.id).where(Channel.key == "demo"))
        admin_id = await session.scalar(select(Operator.id).where(Operator.login == "admin"))
    assert channel_id is not None and admin_id is not None
    client = redis.asyncio.Redis.from_url(redis_url)
    clock = Clock(OPENED)
    try:
        router = Router(sessions, Bus(client), clock)
        yield Hub(sessions, router, clock, channel_id, admin_id, engine)
    finally:
        await client.aclose()
        await engine.dispose()


async def _at(hub: Hub, at: datetime, payload: RouterInput, stream: str = streams.COMMANDS) -> None:
    hub.clock.now = at
    await hub.router.handle(
        [Delivery(stream, "1-1", payload) if stream != streams.COMMANDS else command(payload)]
    )


async def _figures(hub: Hub) -> tuple[object, ...]:
    async with hub.sessions() as session:
        dialog = await session.scalar(select(Dialog))
    assert dialog is not None
    return (
        dialog.id,
        dialog.first_response_s,
        dialog.business_frt_s,
        dialog.duration_s,
        dialog.opened_day,
        dialog.opened_weekday,
        dialog.opened_hour,
    )


async def test_the_router_stores_the_figures_as_the_dialog_goes(hub: Hub) -> None:
    hello = InboundMessage(
        channel_id=hub.channel_id,
        external_user_id="visitor-1",
        external_message_id="m-1",
        client_msg_id="c1",
        text="hello",
        echo=True,
    )
    await _at(hub, OPENED, hello, streams.inbound(0))
    dialog_id, *figures = await _figures(hub)
    assert figures == [None, None, None, "2030-01-07", 0, 8]

    reply = OperatorReply(
        dialog_id=dialog_id, operator_id=hub.admin_id, client_msg_id="r1", text="hi"
    )
    await _at(hub, OPENED + timedelta(minutes=15, seconds=0.9), reply)
    # 15 minutes in all, of which the 5 after 09:00 were working time.
    assert (await _figures(hub))[1:4] == (900, 300, None)

    await _at(hub, OPENED + timedelta(minutes=45), CloseDialog(dialog_id=dialog_id))
    assert (await _figures(hub))[1:] == (900, 300, 2700, "2030-01-07", 0, 8)

    await _at(
        hub,
        OPENED + timedelta(hours=2),
        ReopenDialog(dialog_id=dialog_id, operator_id=hub.admin_id),
    )
    assert (await _figures(hub))[1:4] == (900, 300, None)


async def test_the_rollup_counts_every_message_the_router_stores(hub: Hub) -> None:
    """The counters move by statements of their own (``core.db.counters``), the rollup with
    them: for a dialog opened by a message with another in the same batch, messages to it once
    open, a reply that takes it while it waits (one by one) and a run of replies (set-wise)."""

    def said(n: int) -> Delivery[RouterInput]:
        message = InboundMessage(
            channel_id=hub.channel_id,
            external_user_id="visitor-1",
            external_message_id=f"m-{n}",
            text=f"message {n}",
        )
        return Delivery(streams.inbound(0), f"1-{n}", message)

    def answer(dialog_id: int, n: int) -> Delivery[RouterInput]:
        reply = OperatorReply(
            dialog_id=dialog_id, operator_id=hub.admin_id, client_msg_id=f"r{n}", text="ok"
        )
        return command(reply)

    hub.clock.now = OPENED
    await hub.router.handle([said(1), said(2)])
    await hub.router.handle([said(3), said(4), said(5)])
    dialog_id = (await _figures(hub))[0]
    assert isinstance(dialog_id, int)
    hub.clock.now = OPENED + timedelta(minutes=20)
    await hub.router.handle([answer(dialog_id, 1)])  # the dialog waits: the reply takes it
    await hub.router.handle([answer(dialog_id, 2), answer(dialog_id, 3), said(6)])
    await _at(hub, OPENED + timedelta(minutes=30), CloseDialog(dialog_id=dialog_id))

    async with hub.sessions() as session:
        dialog = await session.get(Dialog, dialog_id)
    assert dialog is not None
    assert (dialog.client_messages, dialog.operator_messages) == (6, 3)
    assert dialog.last_message_at == OPENED + timedelta(minutes=20)
    days, _answered, _months = await checked_rollup(hub.engine)
    assert sum(row[6 + SUMMED.index("messages")] for row in days) == 9
