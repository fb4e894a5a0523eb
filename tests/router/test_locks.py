"""The router's row locks on PostgreSQL: a second writer counts an operator's load only after
the first writer's transaction ended; a read-only caller never waits, nor does a row that
names a locked operator; a dialog queued while another router frees its operator is given
out; conflicts are retryable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker
from core.db.schema import Channel, Client, ClientIdentity, ConsoleSession, Dialog, Operator
from core.envelope import CloseDialog, InboundMessage, RouterInput
from router.batch import Batch
from router.distribution import OperatorState
from router.locks import is_write_conflict
from router.reads import operator_states
from router.worker import Router
from tests.support.router_db import command, seeded_database
from tests.support.routing_world import configure

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
async def staffed(postgres_url: str) -> AsyncIterator[tuple[SessionMaker, int]]:
    engine, sessions = await seeded_database(postgres_url)
    ids = await configure(Settings(database_url=postgres_url), "evenly", [("ann", 2), ("bob", 2)])
    try:
        yield sessions, ids["line"]
    finally:
        await engine.dispose()


async def load(sessions: SessionMaker, line_id: int, writer: bool) -> list[OperatorState]:
    async with sessions() as session, session.begin():
        return await operator_states(Batch(session, NOW, writer=writer), line_id)


async def test_a_second_writer_waits_for_the_first_to_commit_before_counting(
    staffed: tuple[SessionMaker, int],
) -> None:
    sessions, line_id = staffed
    async with sessions() as session, session.begin():
        await operator_states(Batch(session, NOW, writer=True), line_id)
        second = asyncio.create_task(load(sessions, line_id, writer=True))
        await asyncio.sleep(0.5)
        assert not second.done(), "the second writer counted while the first could still assign"
        # The console asking whether a take would go through reads without waiting.
        reader = await asyncio.wait_for(load(sessions, line_id, writer=False), 5)
        assert len(reader) == 2
    states = await asyncio.wait_for(second, 5)
    assert len(states) == 2


async def test_an_operator_logs_in_while_a_router_holds_their_row(
    staffed: tuple[SessionMaker, int],
) -> None:
    """Storing a row that names the operator (here the login's console session) checks the
    foreign key with a key-share lock, which the router's lock leaves free."""
    sessions, line_id = staffed

    async def log_in(operator_id: int) -> None:
        async with sessions() as other, other.begin():
            other.add(
                ConsoleSession(
                    token_hash="f" * 64, operator_id=operator_id, expires_at=NOW + timedelta(days=1)
                )
            )

    async with sessions() as session, session.begin():
        states = await operator_states(Batch(session, NOW, writer=True), line_id)
        await asyncio.wait_for(log_in(states[0].operator_id), 5)


@pytest.mark.parametrize("redis_server", ["7"], indirect=True)
async def test_a_dialog_queued_while_another_router_frees_the_operator_is_given_out(
    staffed: tuple[SessionMaker, int], redis_url: str
) -> None:
    sessions, line_id = staffed
    async with sessions() as session, session.begin():
        await session.execute(update(Operator).values(status="online"))
        channel_id = await session.scalar(select(Channel.id).where(Channel.key == "demo"))
    assert channel_id is not None
    client = redis.asyncio.Redis.from_url(redis_url)
    router = Router(sessions, Bus(client), lambda: NOW)
    try:
        # Ann and Bob, two dialogs each: full.
        await router.handle([_hello(channel_id, n) for n in range(4)])
        async with sessions() as session:
            first = await session.scalar(select(Dialog).order_by(Dialog.id).limit(1))
        assert first is not None and first.operator_id is not None
        # One router counts the operators full and queues a new dialog; before it commits,
        # another closes one of the operators' dialogs and looks for a waiting one.
        async with sessions() as session, session.begin():
            work = Batch(session, NOW, writer=True)
            states = await operator_states(work, line_id)
            assert all(s.open_dialogs_on_line == 2 for s in states), states
            queued = await _waiting_dialog(session, channel_id, line_id)
            closing = asyncio.create_task(router.handle([command(CloseDialog(dialog_id=first.id))]))
            async with asyncio.timeout(10):
                while not closing.done() and not await _waits_on_a_lock(sessions):
                    await asyncio.sleep(0.02)
            assert not closing.done(), "the closing router read the queue before it was written"
        await asyncio.wait_for(closing, 10)
        async with sessions() as session:
            given = await session.get(Dialog, queued)
        assert given is not None and given.operator_id == first.operator_id, (
            "the queued dialog waits while its operator has room"
        )
    finally:
        await client.aclose()


def _hello(channel_id: int, n: int) -> Delivery[RouterInput]:
    msg = InboundMessage(
        channel_id=channel_id, external_user_id=f"v{n}", external_message_id=f"m{n}", text="hi"
    )
    return Delivery(streams.inbound(0), f"0-{n + 1}", msg)


async def _waits_on_a_lock(sessions: SessionMaker) -> bool:
    async with sessions() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


async def _waiting_dialog(session: AsyncSession, channel_id: int, line_id: int) -> int:
    """A dialog in the line's queue, as a router writes it when every operator is full."""
    client = Client(name="Late visitor")
    session.add(client)
    await session.flush()
    identity = ClientIdentity(client_id=client.id, channel_id=channel_id, external_id="late")
    session.add(identity)
    await session.flush()
    dialog = Dialog(
        line_id=line_id, channel_id=channel_id, client_id=client.id, identity_id=identity.id
    )
    session.add(dialog)
    await session.flush()
    return dialog.id


def test_deadlocks_and_serialization_failures_are_retried_and_nothing_else() -> None:
    class Orig(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    assert is_write_conflict(DBAPIError("UPDATE", {}, Orig("40P01")))
    assert is_write_conflict(DBAPIError("UPDATE", {}, Orig("40001")))
    assert not is_write_conflict(IntegrityError("INSERT", {}, Orig("23505")))
    assert not is_write_conflict(ValueError("40P01"))
