"""The line setup kept between batches (router/setup_cache.py): a change made through another
connection, as another process makes it, is seen by the very next batch; a batch with nothing
changed reads only the setup's version; and the version moves with the setup's tables, never
with an operator's presence or with messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker, make_engine, make_sessionmaker
from core.db.routing_schema import (
    LineGroup,
    OperatorGroup,
    OperatorGroupMember,
    SetupVersion,
)
from core.db.schema import Channel, Dialog, Line, LineOperator, Message, Operator
from core.envelope import InboundMessage, RouterInput
from router.batch import Batch
from router.reads import load_policy
from router.worker import Router
from tests.support.querycount import count_queries
from tests.support.router_db import demo_ids, seeded_database

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


async def version(sessions: SessionMaker) -> int | None:
    async with sessions() as session:
        return await session.scalar(select(SetupVersion.version))


@pytest.fixture
async def other(sqlite_url: str) -> AsyncIterator[tuple[AsyncEngine, SessionMaker, SessionMaker]]:
    """The router's engine and sessions, and sessions of a second engine on the same file."""
    engine, sessions = await seeded_database(sqlite_url)
    second = make_engine(sqlite_url)
    other_sessions = make_sessionmaker(second)
    try:
        yield engine, sessions, other_sessions
    finally:
        await second.dispose()
        await engine.dispose()


async def test_a_change_through_another_connection_is_seen_by_the_next_batch(
    other: tuple[AsyncEngine, SessionMaker, SessionMaker],
) -> None:
    engine, sessions, elsewhere = other
    channel_id, admin_id = await demo_ids(sessions)
    async with sessions() as session, session.begin():
        work = Batch(session, NOW, writer=True)
        line_id = (await work.channel(channel_id) or pytest.fail("no channel")).line_id
        assert (await load_policy(work, line_id)).queue == (admin_id,)
        assert (await work.supervisors(line_id))[0] == (admin_id,)
    # Nothing changed: the next batch reads the version and nothing else of the setup.
    with count_queries(engine) as seen:
        async with sessions() as session, session.begin():
            work = Batch(session, NOW, writer=True)
            assert (await work.channel(channel_id) or pytest.fail()).enabled
            assert (await load_policy(work, line_id)).queue == (admin_id,)
            assert (await work.line(line_id)).name != "Renamed"
            assert await work.supervisors(line_id) == ((admin_id,), ())
    assert len(seen) == 1 and "setup_version" in seen[0], seen.report()

    async with elsewhere() as session, session.begin():
        ann = Operator(login="ann", name="Ann", password_hash="-", role="manager")
        session.add(ann)
        await session.flush()
        session.add(LineOperator(line_id=line_id, operator_id=ann.id, position=1))
        await session.execute(update(Line).where(Line.id == line_id).values(name="Renamed"))
        await session.execute(update(Channel).where(Channel.id == channel_id).values(enabled=False))
    async with sessions() as session, session.begin():
        work = Batch(session, NOW, writer=True)
        assert not (await work.channel(channel_id) or pytest.fail()).enabled
        assert (await load_policy(work, line_id)).queue == (admin_id, ann.id)
        assert (await work.line(line_id)).name == "Renamed"
        assert await work.supervisors(line_id) == ((admin_id,), (ann.id,))

    # A role changed elsewhere: Ann is an analyst now, out of the queue and of the managers.
    async with elsewhere() as session, session.begin():
        await session.execute(update(Operator).where(Operator.id == ann.id).values(role="analyst"))
    async with sessions() as session, session.begin():
        work = Batch(session, NOW, writer=True)
        assert (await load_policy(work, line_id)).queue == (admin_id,)
        assert await work.supervisors(line_id) == ((admin_id,), ())


@pytest.mark.parametrize("redis_server", ["7"], indirect=True)
async def test_the_router_drops_messages_of_a_channel_disabled_elsewhere_at_once(
    other: tuple[AsyncEngine, SessionMaker, SessionMaker], redis_url: str
) -> None:
    _engine, sessions, elsewhere = other
    channel_id, _admin_id = await demo_ids(sessions)
    client = redis.asyncio.Redis.from_url(redis_url)
    router = Router(sessions, Bus(client), lambda: NOW)
    try:
        await router.handle([_hello(channel_id, 0)])
        async with elsewhere() as session, session.begin():
            await session.execute(
                update(Channel).where(Channel.id == channel_id).values(enabled=False)
            )
        await router.handle([_hello(channel_id, 1)])
    finally:
        await client.aclose()
    async with sessions() as session:
        stored = (await session.scalars(select(Message.external_id))).all()
    assert stored == ["m0"]


def _hello(channel_id: int, n: int) -> Delivery[RouterInput]:
    msg = InboundMessage(
        channel_id=channel_id, external_user_id="v", external_message_id=f"m{n}", text="hi"
    )
    return Delivery(streams.inbound(0), f"0-{n + 1}", msg)


@pytest.mark.parametrize("redis_server", ["7"], indirect=True)
async def test_the_version_moves_with_the_setup_and_only_with_it(
    db_url: str, redis_url: str
) -> None:
    engine, sessions = await seeded_database(db_url)
    try:
        channel_id, admin_id = await demo_ids(sessions)
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            await Router(sessions, Bus(client), lambda: NOW).handle([_hello(channel_id, 0)])
        finally:
            await client.aclose()
        await _unmoved_by_work(sessions, admin_id)
        await _moved_by_every_setup_table(sessions, channel_id, admin_id)
    finally:
        await engine.dispose()


async def _unmoved_by_work(sessions: SessionMaker, admin_id: int) -> None:
    """Presence, assignments, messages and dialogs leave the version alone."""
    before = await version(sessions)
    assert before is not None
    async with sessions() as session, session.begin():
        await session.execute(
            update(Operator)
            .where(Operator.id == admin_id)
            .values(status="online", last_assigned_at=NOW, max_open_dialogs=3)
        )
        # Naming the role without changing it is no change either.
        await session.execute(update(Operator).values(role=Operator.role))
        dialog = await session.scalar(select(Dialog))
        assert dialog is not None
        dialog.client_messages += 1
        session.add(
            Message(dialog_id=dialog.id, channel_id=dialog.channel_id, author="client", text="x")
        )
    assert await version(sessions) == before


async def _moved_by_every_setup_table(
    sessions: SessionMaker, channel_id: int, admin_id: int
) -> None:
    """Each committed change of a setup table gives a new version; a rolled back one none."""
    async with sessions() as session:
        line_id = await session.scalar(select(Channel.line_id).where(Channel.id == channel_id))
    assert line_id is not None
    changes = [
        insert(OperatorGroup).values(id=50, name="night"),
        insert(OperatorGroupMember).values(group_id=50, operator_id=admin_id),
        insert(LineGroup).values(line_id=line_id, group_id=50, position=2),
        update(LineGroup).values(max_open_dialogs=4),
        delete(OperatorGroupMember),
        delete(LineGroup),
        update(OperatorGroup).values(name="day"),
        delete(OperatorGroup),
        update(LineOperator).values(position=5),
        delete(LineOperator),
        update(Line).values(settings={"offer_seconds": 30}),
        update(Channel).values(name="Chat"),
        insert(Operator).values(id=60, login="bob", name="Bob", password_hash="-"),
        update(Operator).where(Operator.id == 60).values(role="manager"),
        delete(Operator).where(Operator.id == 60),
    ]
    for change in changes:
        before = await version(sessions)
        async with sessions() as session:
            await session.execute(change)
            await session.rollback()
        assert await version(sessions) == before, f"a rollback moved it: {change}"
        async with sessions() as session, session.begin():
            await session.execute(change)
        assert await version(sessions) != before, f"unmoved by {change}"
