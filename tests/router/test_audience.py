"""The router tells about a dialog exactly the operators whose console lists show it: both
follow ``core.audience``."""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio
from sqlalchemy import select

from core import streams
from core.audience import visible_dialogs
from core.bus import Bus, Delivery
from core.db.schema import Channel, Dialog, Line, LineOperator, Operator
from core.envelope import (
    CloseDialog,
    InboundMessage,
    InviteColleague,
    PresenceChange,
    RouterInput,
)
from router.batch import Batch
from router.worker import Router
from tests.support.router_db import command, seeded_database

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


def hello(channel_id: int, n: int) -> Delivery[RouterInput]:
    msg = InboundMessage(
        channel_id=channel_id,
        external_user_id=f"visitor-{n}",
        external_message_id=f"m-{n}",
        text="hello",
    )
    return Delivery(streams.inbound(0), f"0-{n}", msg)


async def test_live_events_and_console_lists_name_the_same_people(
    db_url: str, redis_url: str
) -> None:
    engine, sessions = await seeded_database(db_url)
    async with sessions() as session, session.begin():
        channel_id = await session.scalar(select(Channel.id).where(Channel.key == "demo"))
        line_id = await session.scalar(select(Line.id).where(Line.key == "demo"))
        people = {
            login: Operator(login=login, name=login, password_hash="-", role=role)
            for login, role in [
                ("member", "operator"),
                ("other", "operator"),
                ("guest", "operator"),
                ("boss", "manager"),
                ("far_boss", "manager"),
            ]
        }
        session.add_all(people.values())
        await session.flush()
        for position, login in enumerate(["member", "other", "boss"], start=1):
            session.add(
                LineOperator(line_id=line_id, operator_id=people[login].id, position=position)
            )
        ids = {login: op.id for login, op in people.items()}
    assert channel_id is not None
    client = redis.asyncio.Redis.from_url(redis_url)
    router = Router(sessions, Bus(client), lambda: NOW)
    try:
        # The member, alone online, gets two dialogs; with nobody online two more wait.
        await router.handle([command(PresenceChange(operator_id=ids["member"], status="online"))])
        await router.handle([hello(channel_id, 0), hello(channel_id, 1)])
        await router.handle([command(PresenceChange(operator_id=ids["member"], status="offline"))])
        await router.handle([hello(channel_id, 2), hello(channel_id, 3)])
        async with sessions() as session:
            dialogs = (await session.scalars(select(Dialog.id).order_by(Dialog.id))).all()
        held, invited, waiting, dropped = dialogs
        await router.handle(
            [
                command(
                    InviteColleague(
                        dialog_id=invited, operator_id=ids["member"], colleague_id=ids["guest"]
                    )
                ),
                command(CloseDialog(dialog_id=dropped)),
            ]
        )
        async with sessions() as session:
            operators = (await session.scalars(select(Operator))).all()
            rows = (await session.scalars(select(Dialog).order_by(Dialog.id))).all()
            assert [d.status for d in rows] == ["open", "open", "waiting", "closed"]
            batch = Batch(session, NOW)
            told = {d.id: set(await batch.recipients(d)) for d in rows}
            for op in operators:
                rule = visible_dialogs(op.id, op.role)
                query = select(Dialog.id) if rule is None else select(Dialog.id).where(rule)
                listed = set((await session.scalars(query)).all())
                assert listed == {d for d in told if op.id in told[d]}, op.login
        assert ids["guest"] in told[invited] and ids["guest"] not in told[held]
        assert ids["other"] in told[waiting] and ids["other"] not in told[held]
        assert ids["boss"] in told[held] and ids["far_boss"] not in told[waiting]
    finally:
        await client.aclose()
        await engine.dispose()
