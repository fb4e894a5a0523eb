"""The console's session cache: one per application, forgetting changed operators at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from core.db import SessionMaker, make_engine, make_sessionmaker, upgrade
from core.db.schema import Operator
from core.envelope import utcnow
from operator_console.auth import SessionCache, do_create_session, do_end_session
from operator_console.seed import do_seed


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[SessionMaker]:
    engine = make_engine(sqlite_url)
    await upgrade(engine)
    maker = make_sessionmaker(engine)
    await do_seed(maker, "admin", "admin-password-1")
    try:
        yield maker
    finally:
        await engine.dispose()


async def _admin_token(sessions: SessionMaker) -> tuple[int, str]:
    async with sessions() as session:
        admin_id = await session.scalar(select(Operator.id).where(Operator.login == "admin"))
    assert admin_id is not None
    return admin_id, await do_create_session(sessions, admin_id, hours=1)


async def _set_role(sessions: SessionMaker, operator_id: int, role: str) -> None:
    async with sessions() as session, session.begin():
        operator = await session.get(Operator, operator_id)
        assert operator is not None
        operator.role = role


async def test_a_role_change_is_seen_at_once_while_the_cache_watches(
    sessions: SessionMaker,
) -> None:
    admin_id, token = await _admin_token(sessions)
    cache = SessionCache(sessions, seconds=3600)
    with cache.watching_operators():
        before = await cache.operator(token)
        assert before is not None and before.role == "admin"
        await _set_role(sessions, admin_id, "manager")
        after = await cache.operator(token)
        assert after is not None and after.role == "manager"
    # Once the application stops, its cache no longer listens to operator rows.
    await _set_role(sessions, admin_id, "operator")
    kept = await cache.operator(token)
    assert kept is not None and kept.role == "manager"


async def test_the_routers_bookkeeping_keeps_the_cached_operator(sessions: SessionMaker) -> None:
    """Giving out a dialog sets the operator's ``last_assigned_at`` (often to the value it had)
    and presence sets ``status``: neither is a reason for the next request to read the row."""
    admin_id, token = await _admin_token(sessions)
    cache = SessionCache(sessions, seconds=3600)
    with cache.watching_operators():
        cached = await cache.operator(token)
        assert cached is not None
        assigned = utcnow()
        for _ in range(2):  # the second time to the same value: an update with no net change
            async with sessions() as session, session.begin():
                operator = await session.get(Operator, admin_id)
                assert operator is not None
                operator.status = "online"
                operator.last_assigned_at = assigned
        assert await cache.operator(token) is cached
        await _set_role(sessions, admin_id, "manager")
        changed = await cache.operator(token)
        assert changed is not cached and changed is not None and changed.role == "manager"


async def test_caches_of_two_applications_are_separate(sessions: SessionMaker) -> None:
    _admin_id, token = await _admin_token(sessions)
    first, second = SessionCache(sessions, seconds=3600), SessionCache(sessions, seconds=3600)
    assert await first.operator(token) is not None
    assert await second.operator(token) is not None
    await do_end_session(first, token)
    assert await first.operator(token) is None
    # The other process-local cache still holds it until its time is up, as another
    # process would.
    assert await second.operator(token) is not None
