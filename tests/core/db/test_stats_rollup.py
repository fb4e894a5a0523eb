"""The statistics' daily rollup matches the dialogs it sums, on SQLite and PostgreSQL: after
dialogs are written, answered, closed, rated, reassigned, reopened, moved and deleted through
hub sessions (the rollup kept at each flush), and after migrations 0018 and 0022 fill it
afresh.

The rollup kept step by step is compared with the rollup made in one ``GROUP BY`` over the
dialogs (``core.db.rollup.backfill``, then ``backfill_months`` for the monthly first response
counts), and a few of its rows with figures worked out by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import SessionMaker, make_engine, make_sessionmaker, upgrade
from core.db.migrate import alembic_config
from core.db.rollup import at_commit, defer_to_commit
from core.db.schema import Channel, Client, ClientIdentity, Dialog, Line, Operator
from tests.support.rollup_check import checked_rollup, rollup_rows

WEEK = {"schedule": {"week": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}}
MONDAY = datetime(2030, 1, 7, tzinfo=UTC)
"""Berlin is UTC+1 in January: 09:00 local is 08:00 UTC."""


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


async def _places(db: SessionMaker) -> dict[str, int]:
    async with db() as s, s.begin():
        berlin = Line(key="b", name="Berlin", timezone="Europe/Berlin", settings=WEEK)
        utc = Line(key="u", name="UTC", timezone="UTC")
        ann = Operator(login="ann", name="Ann", password_hash="-")
        bob = Operator(login="bob", name="Bob", password_hash="-")
        client = Client(name="Cid")
        s.add_all([berlin, utc, ann, bob, client])
        await s.flush()
        chat = Channel(line_id=berlin.id, kind="webchat", key="w", name="W")
        mail = Channel(line_id=utc.id, kind="email", key="e", name="E")
        s.add_all([chat, mail])
        await s.flush()
        identity = ClientIdentity(client_id=client.id, channel_id=chat.id, external_id="c")
        s.add(identity)
        await s.flush()
        return {
            "berlin": berlin.id,
            "utc": utc.id,
            "ann": ann.id,
            "bob": bob.id,
            "client": client.id,
            "chat": chat.id,
            "mail": mail.id,
            "identity": identity.id,
        }


def _dialog(p: dict[str, int], opened: datetime, **values: Any) -> Dialog:
    return Dialog(
        line_id=p["berlin"],
        channel_id=p["chat"],
        client_id=p["client"],
        identity_id=p["identity"],
        opened_at=opened,
        last_message_at=opened,
        **values,
    )


async def test_the_rollup_follows_every_change_of_a_dialog(engine: AsyncEngine) -> None:
    db = make_sessionmaker(engine)
    p = await _places(db)
    async with db() as s, s.begin():
        # 23:30 UTC on Monday is 00:30 on Tuesday in Berlin: a local day of its own.
        late = _dialog(p, MONDAY + timedelta(hours=23, minutes=30), began_in_hours=False)
        morning = _dialog(p, MONDAY + timedelta(hours=9), began_in_hours=True, operator_id=p["ann"])
        nobody = _dialog(p, MONDAY + timedelta(hours=10), client_messages=2)
        s.add_all([late, morning, nobody])
    days, answered, months = await checked_rollup(engine)
    assert [(d[0], d[4], d[6]) for d in days] == [
        ("2030-01-07", -1, 1),
        ("2030-01-07", 1, 1),
        ("2030-01-08", 0, 1),
    ]
    assert answered == months == []

    async with db() as s, s.begin():
        s.add(nobody)
        nobody.client_messages = 3  # a message in an open dialog: its row's messages only
    days, _answered, _months = await checked_rollup(engine)
    assert [(d[4], d[6], d[10]) for d in days if d[0] == "2030-01-07"] == [(-1, 1, 3), (1, 1, 0)]

    async with db() as s, s.begin():
        s.add(morning)
        morning.first_response_at = morning.opened_at + timedelta(seconds=75)
        morning.operator_messages = 3
    _days, answered, months = await checked_rollup(engine)
    assert [(a[0], a[6], a[7]) for a in answered] == [(False, 75, 1), (True, 75, 1)]
    assert months == [
        (business, grain, "2030-01", p["berlin"], part, 1, 75, 1)
        for business in (False, True)
        for grain, part in (("channel", p["chat"]), ("operator", p["ann"]))
    ]

    async with db() as s, s.begin():
        s.add_all([morning, late])
        morning.closed_at = morning.opened_at + timedelta(minutes=30)
        morning.status, morning.outcome, morning.rating = "closed", "answered", 5
        late.closed_at = late.opened_at + timedelta(minutes=5)
        late.status, late.outcome = "closed", "missed"
    days, _answered, _months = await checked_rollup(engine)
    rated = next(d for d in days if d[3] == p["ann"])
    # dialogs, missed, closed, seconds open, messages, rated, sum, good, stars 1..5
    assert rated[6:19] == (1, 0, 1, 1800, 3, 1, 5, 1, 0, 0, 0, 0, 1)
    assert rated[19 + 10] == 1  # 10:00 in Berlin

    async with db() as s, s.begin():
        s.add_all([morning, late, nobody])
        morning.operator_id = p["bob"]  # reassigned
        late.closed_at, late.status, late.outcome = None, "open", None  # reopened
        nobody.line_id, nobody.channel_id = p["utc"], p["mail"]  # moved to another line
        nobody.client_messages = 4
    days, _answered, months = await checked_rollup(engine)
    assert {m[4] for m in months if m[1] == "operator"} == {p["bob"]}
    assert {d[3] for d in days} == {0, p["bob"]}
    assert sum(d[7] for d in days) == 0  # nothing missed once reopened

    async with db() as s, s.begin():
        await s.delete(await s.get(Dialog, morning.id))
    days, answered, months = await checked_rollup(engine)
    assert answered == months == []
    assert sorted((d[1], d[6]) for d in days) == [(p["berlin"], 1), (p["utc"], 1)]


def _downgrade(conn: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.downgrade(cfg, revision)


async def test_the_migration_fills_the_rollup_from_the_dialogs(engine: AsyncEngine) -> None:
    db = make_sessionmaker(engine)
    p = await _places(db)
    async with db() as s, s.begin():
        for n in range(6):
            opened = MONDAY + timedelta(hours=7 * n, minutes=n)
            s.add(
                _dialog(
                    p,
                    opened,
                    operator_id=p["ann"] if n % 2 else None,
                    began_in_hours=bool(n % 3),
                    first_response_at=opened + timedelta(seconds=30 * n) if n else None,
                    closed_at=opened + timedelta(minutes=n) if n > 2 else None,
                    rating=n if n > 2 else None,
                    outcome="missed" if n == 0 else None,
                )
            )
    kept = await checked_rollup(engine)
    assert sum(d[6] for d in kept[0]) == 6
    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Going down rebuilds tables to drop columns (Alembic's batch mode), which SQLite
            # refuses while it enforces foreign keys: they are off for the downgrade.
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        await conn.run_sync(_downgrade, "0017")
        await conn.commit()
        if sqlite:
            await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    await upgrade(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(rollup_rows) == kept


async def test_a_change_whose_old_values_were_not_loaded_moves_the_rollup(
    engine: AsyncEngine,
) -> None:
    db = make_sessionmaker(engine)
    p = await _places(db)
    async with db() as s, s.begin():
        s.add(_dialog(p, MONDAY + timedelta(hours=9), client_messages=2))
    async with db() as s, s.begin():
        dialog = await s.scalar(select(Dialog))
        assert dialog is not None
        # Set without the stored values in the session: the flush reads them back.
        s.expire(dialog, ["client_messages", "operator_id"])
        dialog.client_messages, dialog.operator_id = 5, p["ann"]
    days, _answered, _months = await checked_rollup(engine)
    assert [(d[3], d[6], d[10]) for d in days] == [(p["ann"], 1, 5)]


async def test_a_deferring_session_writes_the_rollup_once_at_its_commit(
    engine: AsyncEngine,
) -> None:
    db = make_sessionmaker(engine)
    p = await _places(db)
    async with db() as s:
        defer_to_commit(s.sync_session)
        async with s.begin():
            dialog = _dialog(p, MONDAY + timedelta(hours=9), client_messages=1)
            s.add(dialog)
            await s.flush()
            dialog.operator_id = p["ann"]  # opened and assigned in one transaction
            await s.flush()
            written = await s.run_sync(lambda sync: rollup_rows(sync.connection()))
            assert written == ([], [], [])  # nothing before the commit
            dialog.client_messages = 2  # left for the commit's own flush
        days, _answered, _months = await checked_rollup(engine)
        assert [(d[3], d[6], d[10]) for d in days] == [(p["ann"], 1, 2)]

        async with s.begin():
            s.add(_dialog(p, MONDAY + timedelta(hours=10)))
            await s.flush()
            await s.rollback()
        # The rolled back dialog's difference went with it; the session still defers.
        async with s.begin():
            dialog.operator_id = p["bob"]
            await s.flush()
            assert await s.run_sync(lambda sync: rollup_rows(sync.connection())) == (
                days,
                [],
                [],
            )
    days, _answered, _months = await checked_rollup(engine)
    assert [(d[3], d[6], d[10]) for d in days] == [(p["bob"], 1, 2)]


async def test_writes_noted_for_the_commit_go_with_it_or_with_its_rollback(
    engine: AsyncEngine,
) -> None:
    db = make_sessionmaker(engine)
    p = await _places(db)
    renamed = update(Client).where(Client.id == bindparam("b_id")).values(name=bindparam("b_name"))

    async def name() -> str | None:
        async with db() as s:
            return await s.scalar(select(Client.name).where(Client.id == p["client"]))

    async with db() as s:
        async with s.begin():
            assert not at_commit(s.sync_session, (renamed, {}))  # not deferring: write it now
        defer_to_commit(s.sync_session)
        async with s.begin():
            s.add(_dialog(p, MONDAY + timedelta(hours=9), client_messages=1))
            assert at_commit(s.sync_session, (renamed, {"b_id": p["client"], "b_name": "Ada"}))
            await s.flush()
            assert await s.scalar(select(Client.name).where(Client.id == p["client"])) == "Cid"
        assert await name() == "Ada"
        days, _answered, _months = await checked_rollup(engine)
        assert [d[6] for d in days] == [1]  # the rollup went in the same commit

        async with s.begin():
            at_commit(s.sync_session, (renamed, {"b_id": p["client"], "b_name": "Bea"}))
            await s.rollback()
        async with s.begin():
            pass  # a commit after the rollback writes nothing it noted
    assert await name() == "Ada"
