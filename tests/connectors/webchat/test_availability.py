"""Whether a line answers now, as the widget's header says: within its hours, and one of its
operators (in its queue directly or through a group) online. On both databases: the answer is
one statement with subqueries, and each backend plans it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from connectors.webchat.availability import line_answering
from core.db import SessionMaker, make_engine, make_sessionmaker
from core.db.routing_schema import LineGroup, OperatorGroup, OperatorGroupMember
from core.db.schema import Line, LineOperator, Operator

MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionMaker]:
    engine = make_engine(db_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _line(sessions: SessionMaker, key: str, settings: dict[str, object]) -> int:
    async with sessions() as session, session.begin():
        line = Line(key=key, name=key, settings=settings)
        session.add(line)
        await session.flush()
        return line.id


async def _operator(sessions: SessionMaker, login: str, status: str) -> int:
    async with sessions() as session, session.begin():
        operator = Operator(login=login, name=login, password_hash="-", status=status)
        session.add(operator)
        await session.flush()
        return operator.id


async def _answering(sessions: SessionMaker, line_id: int) -> bool:
    async with sessions() as session:
        return await line_answering(session, line_id, MONDAY_NOON)


async def test_a_line_answers_while_an_operator_of_its_queue_is_online(
    sessions: SessionMaker,
) -> None:
    line = await _line(sessions, "sales", {})
    other = await _line(sessions, "support", {})
    ann = await _operator(sessions, "ann", "offline")
    bob = await _operator(sessions, "bob", "online")
    async with sessions() as session, session.begin():
        session.add(LineOperator(line_id=line, operator_id=ann))
        session.add(LineOperator(line_id=other, operator_id=bob))
    # Bob is online, but on another line.
    assert await _answering(sessions, line) is False
    assert await _answering(sessions, other) is True
    async with sessions() as session, session.begin():
        operator = await session.get(Operator, ann)
        assert operator is not None
        operator.status = "online"
    assert await _answering(sessions, line) is True


async def test_an_operator_online_through_a_group_counts(sessions: SessionMaker) -> None:
    line = await _line(sessions, "sales", {})
    cid = await _operator(sessions, "cid", "online")
    async with sessions() as session, session.begin():
        group = OperatorGroup(name="evening")
        session.add(group)
        await session.flush()
        session.add(OperatorGroupMember(group_id=group.id, operator_id=cid))
        session.add(LineGroup(line_id=line, group_id=group.id))
    assert await _answering(sessions, line) is True


async def test_outside_its_hours_a_line_is_away_and_an_unknown_line_never_answers(
    sessions: SessionMaker,
) -> None:
    closed = await _line(sessions, "closed", {"schedule": {"week": {}}})
    dan = await _operator(sessions, "dan", "online")
    async with sessions() as session, session.begin():
        session.add(LineOperator(line_id=closed, operator_id=dan))
    assert await _answering(sessions, closed) is False
    assert await _answering(sessions, closed + 1000) is False
