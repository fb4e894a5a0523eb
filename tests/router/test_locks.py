"""The router's row locks on PostgreSQL: a second writer counts an operator's load only after
the first writer's transaction ended; a read-only caller never waits; conflicts are retryable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from config.settings import Settings
from core.db import SessionMaker
from router.batch import Batch
from router.distribution import OperatorState
from router.locks import is_write_conflict
from router.reads import operator_states
from tests.support.router_db import seeded_database
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


def test_deadlocks_and_serialization_failures_are_retried_and_nothing_else() -> None:
    class Orig(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    assert is_write_conflict(DBAPIError("UPDATE", {}, Orig("40P01")))
    assert is_write_conflict(DBAPIError("UPDATE", {}, Orig("40001")))
    assert not is_write_conflict(IntegrityError("INSERT", {}, Orig("23505")))
    assert not is_write_conflict(ValueError("40P01"))
