"""The webhook fan-out's read of the active webhooks: kept between batches, read again after a
change to a webhook in this process, and once it is older than its seconds otherwise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, insert

from core.db import SessionMaker, make_engine, make_sessionmaker
from core.db.integrations_schema import Webhook
from core.db.migrate import upgrade
from operator_console.integrations.active_hooks import ActiveHooks


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[SessionMaker]:
    engine = make_engine(sqlite_url)
    await upgrade(engine)
    yield make_sessionmaker(engine)
    await engine.dispose()


def _hook(name: str, events: list[str]) -> Webhook:
    return Webhook(name=name, url="http://127.0.0.1:9/", secret="whsec_x", events=events)


async def test_a_change_in_this_process_is_seen_by_the_next_read(sessions: SessionMaker) -> None:
    hooks = ActiveHooks(sessions, seconds=3600)
    with hooks.watching():
        assert not hooks.none_known()  # nothing read yet
        assert await hooks.read() == []
        assert hooks.none_known()
        async with sessions() as session, session.begin():
            hook = _hook("crm", ["message.created"])
            session.add(hook)
            await session.flush()
            assert not hooks.none_known()
            # Read between the flush and the commit: the state before, and not kept.
            assert await hooks.read() == []
            assert not hooks.none_known()
        assert await hooks.read() == [(hook.id, frozenset({"message.created"}))]
        assert not hooks.none_known()
        async with sessions() as session, session.begin():
            row = await session.get(Webhook, hook.id)
            assert row is not None
            row.events = ["dialog.closed"]
        assert await hooks.read() == [(hook.id, frozenset({"dialog.closed"}))]
        async with sessions() as session, session.begin():
            row = await session.get(Webhook, hook.id)
            assert row is not None
            row.active = False
        assert await hooks.read() == []
        async with sessions() as session, session.begin():
            row = await session.get(Webhook, hook.id)
            await session.delete(row)
            session.add(_hook("other", ["message.created"]))
        assert [events for _id, events in await hooks.read()] == [frozenset({"message.created"})]
        async with sessions() as session, session.begin():
            await session.execute(delete(Webhook))
        # A statement that is no row change of the ORM, like another process's: seen only
        # once the read is older than its seconds.
        assert len(await hooks.read()) == 1
    assert await ActiveHooks(sessions, seconds=0).read() == []


async def test_without_a_change_the_read_stands_its_seconds(sessions: SessionMaker) -> None:
    kept, fresh = ActiveHooks(sessions, seconds=3600), ActiveHooks(sessions, seconds=0)
    with kept.watching():
        assert await kept.read() == [] and await fresh.read() == []
        async with sessions() as session, session.begin():
            await session.execute(
                insert(Webhook).values(
                    name="elsewhere", url="http://127.0.0.1:9/", secret="s", events=["x"]
                )
            )
        assert await kept.read() == [] and kept.none_known() and not fresh.none_known()
        assert [events for _id, events in await fresh.read()] == [frozenset({"x"})]


async def test_a_change_in_this_process_ends_the_wait_for_one(sessions: SessionMaker) -> None:
    hooks = ActiveHooks(sessions, seconds=3600)
    with hooks.watching():
        hooks.forget_changes()
        waiting = asyncio.ensure_future(hooks.changed(3600))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        async with sessions() as session, session.begin():
            session.add(_hook("crm", ["message.created"]))
        await asyncio.wait_for(waiting, 5)
        # Nothing since forget_changes: the wait lasts its seconds.
        hooks.forget_changes()
        started = time.monotonic()
        await hooks.changed(0.2)
        assert time.monotonic() - started >= 0.2
