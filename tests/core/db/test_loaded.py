"""Entities read on the cursor are what the ORM's read gives: the same values, persistent in
the session, one object per row, and their changes written like any loaded entity's."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import inspect, select, update

from core.db import SessionMaker, loaded, make_engine, make_sessionmaker
from core.db.held import hold_entities
from core.db.schema import Client, ClientIdentity, Dialog
from core.db.writer import make_writer_engine
from core.db.writer_session import DirectSession
from tests.support.client_seed import seed_client
from tests.support.querycount import count_queries

OPENED = datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=UTC)


class Databases:
    """The hub's async sessions and the router writer's sessions on one database."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        self.writer_engine = make_writer_engine(url)
        self.writer: SessionMaker = make_sessionmaker(self.writer_engine, DirectSession)


@pytest.fixture
async def databases(db_url: str) -> AsyncIterator[Databases]:
    found = Databases(db_url)
    try:
        yield found
    finally:
        found.writer_engine.sync_engine.dispose()
        await found.engine.dispose()


async def _dialogs(databases: Databases, count: int) -> list[int]:
    seeded = await seed_client(databases.sessions)
    async with databases.sessions() as s, s.begin():
        dialogs = [
            Dialog(line_id=seeded.line_id, channel_id=seeded.channel_id,
                   client_id=seeded.client_id, identity_id=seeded.identity_id, opened_at=OPENED,
                   status="open")
            for _ in range(count)
        ]  # fmt: skip
        s.add_all(dialogs)
        await s.flush()
        return [d.id for d in dialogs]


def _values(entity: Any) -> dict[str, Any]:
    return {a.key: getattr(entity, a.key) for a in inspect(type(entity)).column_attrs}


async def _read_as_held(databases: Databases, entities: list[Any]) -> None:
    """A later read of each entity finds the values it holds."""
    async with databases.sessions() as s:
        for entity in entities:
            found = await s.get(type(entity), entity.id)
            assert found is not None and _values(found) == _values(entity)


@pytest.mark.parametrize("writer", [True, False], ids=["writer", "hub"])
async def test_entities_read_on_the_cursor_are_the_orms(databases: Databases, writer: bool) -> None:
    ids = await _dialogs(databases, 3)
    async with databases.sessions() as s:
        expected = {d.id: _values(d) for d in await s.scalars(select(Dialog))}
    sessions = databases.writer if writer else databases.sessions
    async with sessions() as s, s.begin():
        read = await loaded.by_ids(s, Dialog, [*ids, 9999])  # one that does not exist
        assert sorted(d.id for d in read) == ids
        assert {d.id: _values(d) for d in read} == expected
        assert read[0].opened_at == OPENED
        assert all(inspect(d).persistent and not s.is_modified(d) for d in read)
        # The session's own: its lookups and later reads give the same objects.
        assert await s.get(Dialog, ids[0]) in read
        again = await loaded.by_ids(s, Dialog, ids)
        assert {id(d) for d in again} == {id(d) for d in read}
        assert await loaded.by_ids(s, Dialog, []) == []


async def test_a_change_is_written_as_for_a_loaded_entity(databases: Databases) -> None:
    ids = await _dialogs(databases, 1)
    with count_queries(databases.writer_engine) as seen:
        async with databases.writer() as s, s.begin():
            [dialog] = await loaded.by_ids(s, Dialog, ids)
            dialog.status = "closed"
    updates = [" ".join(q.split()) for q in seen if q.lstrip().upper().startswith("UPDATE")]
    assert any(u.startswith("UPDATE dialogs SET status=") for u in updates), seen.report()
    assert not any("opened_at" in u for u in updates), seen.report()
    async with databases.sessions() as s:
        stored = await s.get(Dialog, ids[0])
        assert stored is not None and stored.status == "closed" and stored.opened_at == OPENED


async def test_a_held_entity_comes_back_as_it_is(databases: Databases) -> None:
    ids = await _dialogs(databases, 1)
    async with databases.writer() as s, s.begin():
        held = await s.get(Dialog, ids[0])
        assert held is not None
        held.status = "closed"  # pending: the read flushes it first, then finds the same object
        [read] = await loaded.by_ids(s, Dialog, ids)
        assert read is held and read.status == "closed"


async def test_a_holding_session_keeps_what_it_adopted(databases: Databases) -> None:
    ids = await _dialogs(databases, 2)
    async with databases.writer() as s, s.begin():
        hold_entities(s.sync_session)
        await loaded.by_ids(s, Dialog, ids)  # the entities let go at once
        gc.collect()
        with count_queries(databases.writer_engine) as seen:
            found = [await s.get(Dialog, i) for i in ids]
        assert [d.id for d in found if d is not None] == ids
        assert not seen, seen.report()


async def test_an_adopted_entity_is_expired_by_a_rollback(databases: Databases) -> None:
    [dialog_id] = await _dialogs(databases, 1)
    async with databases.writer() as s:
        async with s.begin():
            [dialog] = await loaded.by_ids(s, Dialog, [dialog_id])
            dialog.status = "closed"
            await s.flush()
            await s.rollback()
        # Still the session's, its values read again as stored, like a loaded entity's.
        assert inspect(dialog).persistent
        assert await s.get(Dialog, dialog_id) is dialog
        assert dialog.status == "open"


@pytest.mark.parametrize("writer", [True, False], ids=["writer", "hub"])
async def test_read_again_gives_a_held_entity_what_is_stored(
    databases: Databases, writer: bool
) -> None:
    ids = await _dialogs(databases, 3)
    sessions = databases.writer if writer else databases.sessions
    async with sessions() as s:
        [held] = await loaded.by_ids(s, Dialog, [ids[1]])
        async with databases.sessions() as other, other.begin():
            await other.execute(update(Dialog).where(Dialog.id == ids[1]).values(status="closed"))
        assert held.status == "open"  # what this session read before the other's commit
        again = await loaded.read_again(s, Dialog, [ids[2], 9999, ids[1], ids[0]], lock="wait")
        assert [d.id for d in again] == ids  # in id order, the missing one left out
        assert again[1] is held and held.status == "closed"
        assert not s.is_modified(held)  # stored values, not a change to write
        assert all(inspect(d).persistent for d in again)
        assert await s.get(Dialog, ids[0]) is again[0]
        assert await loaded.read_again(s, Dialog, []) == []
        await s.rollback()


def test_shape_keeps_two_entities_of_one_row_apart() -> None:
    identity, dialog = loaded.shape(ClientIdentity, "i_"), loaded.shape(Dialog, "d_")
    names = [c.name for c in (*identity.columns, *dialog.columns)]
    assert len(names) == len(set(names))
    assert identity.keys[identity.primary] == "id" and dialog.keys[dialog.primary] == "id"


@pytest.mark.parametrize("writer", [True, False], ids=["writer", "hub"])
async def test_a_stored_entity_is_the_one_a_flush_would_store(
    databases: Databases, writer: bool
) -> None:
    seeded = await seed_client(databases.sessions)
    sessions = databases.writer if writer else databases.sessions
    async with sessions() as s, s.begin():
        dialog = Dialog(line_id=seeded.line_id, channel_id=seeded.channel_id,
                        client_id=seeded.client_id, identity_id=seeded.identity_id,
                        opened_at=OPENED, last_message_at=OPENED)  # fmt: skip
        same = await loaded.stored(s, dialog)
        assert same is dialog and dialog.id is not None
        assert inspect(dialog).persistent and not s.is_modified(dialog)
        # The columns left unset took their defaults, and are known without a read.
        assert (dialog.status, dialog.client_messages, dialog.operator_id) == ("waiting", 0, None)
        assert await s.get(Dialog, dialog.id) is dialog
    await _read_as_held(databases, [dialog])


@pytest.mark.parametrize("writer", [True, False], ids=["writer", "hub"])
async def test_entities_stored_together_each_get_their_own_row(
    databases: Databases, writer: bool
) -> None:
    seeded = await seed_client(databases.sessions)
    sessions = databases.writer if writer else databases.sessions
    names = ["", "Ann", "", "Bea", ""]  # alike ones too: any may take any of their rows
    with count_queries(databases.writer_engine if writer else databases.engine) as seen:
        async with sessions() as s, s.begin():
            clients = [Client(name=n, created_at=OPENED, updated_at=OPENED) for n in names]
            same = await loaded.stored_all(s, clients, lambda c: c.name)
            assert same == clients
            assert all(inspect(c).persistent and not s.is_modified(c) for c in clients)
            assert [c.name for c in clients] == names
            ids = [c.id for c in clients]
            assert len(set(ids)) == len(names) and seeded.client_id not in ids
            # In the order of the VALUES, as the database hands the ids out.
            assert ids == sorted(ids)
            assert [await s.get(Client, i) for i in ids] == clients
    flat = [" ".join(q.split()) for q in seen]
    assert len([q for q in flat if q.startswith("INSERT INTO clients")]) == 1, seen.report()
    await _read_as_held(databases, clients)


async def test_entities_stored_together_set_the_same_columns(databases: Databases) -> None:
    uneven = [Client(name="a", created_at=OPENED, updated_at=OPENED), Client(name="b")]
    async with databases.writer() as s, s.begin():
        with pytest.raises(ValueError, match="different columns"):
            await loaded.stored_all(s, uneven, lambda c: c.name)


async def test_a_stored_entity_writes_its_later_changes(databases: Databases) -> None:
    seeded = await seed_client(databases.sessions)
    with count_queries(databases.writer_engine) as seen:
        async with databases.writer() as s, s.begin():
            dialog = Dialog(line_id=seeded.line_id, channel_id=seeded.channel_id,
                            client_id=seeded.client_id, identity_id=seeded.identity_id,
                            opened_at=OPENED, last_message_at=OPENED)  # fmt: skip
            await loaded.stored(s, dialog)
            dialog.status = "open"
    flat = [" ".join(q.split()) for q in seen]
    assert [q.split(" (")[0] for q in flat if q.startswith("INSERT")] == ["INSERT INTO dialogs"]
    assert [q for q in flat if q.startswith("UPDATE dialogs SET status=")], seen.report()
    assert not [q for q in flat if q.startswith("SELECT")], seen.report()
    async with databases.sessions() as s:
        found = await s.get(Dialog, dialog.id)
        assert found is not None and found.status == "open"


@pytest.mark.parametrize("writer", [True, False], ids=["writer", "hub"])
async def test_get_is_the_sessions_get_on_the_cursor(databases: Databases, writer: bool) -> None:
    [dialog_id] = await _dialogs(databases, 1)
    sessions = databases.writer if writer else databases.sessions
    async with sessions() as s, s.begin():
        read = await loaded.get(s, Dialog, dialog_id)
        assert read is not None and read.opened_at == OPENED
        assert inspect(read).persistent and not s.is_modified(read)
        assert await s.get(Dialog, dialog_id) is read
        assert await loaded.get(s, Dialog, 9999) is None
    with count_queries(databases.writer_engine) as seen:
        async with databases.writer() as s, s.begin():
            held = await s.get(Dialog, dialog_id)
            assert held is not None
            held.status = "closed"
            # Held: given back as it is, pending change and all, without a read.
            assert await loaded.get(s, Dialog, dialog_id) is held and held.status == "closed"
            selects = [q for q in seen if q.lstrip().upper().startswith("SELECT")]
            assert len(selects) == 1, seen.report()
            s.expire(held, ["status"])
            # Expired: read again, as the session's get would.
            again = await loaded.get(s, Dialog, dialog_id)
            assert again is held and held.status == "open"
