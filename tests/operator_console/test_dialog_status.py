"""The read behind replies and typing signals: the status of a dialog the caller may see, on
SQLite through a held connection that sees every commit at once, elsewhere through a pool of
autocommit reads."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.db.engine import sqlite_file
from core.db.routing_schema import DialogParticipant
from core.db.schema import Dialog, Operator
from operator_console.dialog_status import READ_POOL, DialogStatusReader, SeenDialog
from operator_console.dialog_status_pg import APPLICATION_NAME
from tests.support.console_world import add_dialog, make_world
from tests.support.router_db import drop_other_connections, seeded_database


async def test_a_dialog_shows_only_to_whom_may_see_it_and_as_it_is_now(db_url: str) -> None:
    engine, sessions = await seeded_database(db_url)
    reader = DialogStatusReader(engine)
    await reader.open()
    try:
        assert (reader._held is not None) == db_url.startswith("sqlite")
        assert (reader._postgres is not None) == (not db_url.startswith("sqlite"))
        if reader._postgres is not None:
            # Autocommit: each read is a transaction of its own (no BEGIN and ROLLBACK around
            # it), so two reads on one connection see two transaction times; the engine's own
            # connection reads both in one transaction.
            async with reader._postgres.pool.acquire() as raw:
                times = set()
                for _ in range(2):
                    times.add(await raw.fetchval("SELECT now()"))
                    await asyncio.sleep(0.01)
                assert len(times) == 2
            async with engine.connect() as connection:
                assert len(await _transaction_times(connection)) == 1
        world = await make_world(sessions)
        async with sessions() as session:
            people = {op.login: op for op in await session.scalars(select(Operator))}
        olga, petr, mara = people["olga"], people["petr"], people["mara"]
        queued, _ = await add_dialog(
            sessions,
            world.ids["sales_tg"],
            world.sales_line,
            "Eva",
            ["hello"],
            operator_id=None,
            status="waiting",
        )
        mine = world.dialogs["olga"]
        assert await reader.status(mine, olga) == SeenDialog(mine, "open")
        assert await reader.status(mine, people["admin"]) == SeenDialog(mine, "open")
        assert await reader.status(mine, petr) is None  # another line's, and taken
        assert await reader.status(world.dialogs["petr"], mara) == SeenDialog(
            world.dialogs["petr"], "closed"
        )  # a manager sees their line's
        assert await reader.status(queued, petr) == SeenDialog(queued, "waiting")  # unassigned
        assert await reader.status(queued, olga) is None
        assert await reader.status(10**6, people["admin"]) is None
        # Invited into a dialog of another line: seen; a commit elsewhere shows at once.
        async with sessions() as session, session.begin():
            session.add(DialogParticipant(dialog_id=mine, operator_id=petr.id))
            await session.execute(update(Dialog).where(Dialog.id == mine).values(status="closed"))
        assert await reader.status(mine, petr) == SeenDialog(mine, "closed")
        assert await reader.status(mine, olga) == SeenDialog(mine, "closed")
    finally:
        await reader.close()
        await engine.dispose()


async def _transaction_times(connection: AsyncConnection) -> set[object]:
    times: set[object] = set()
    for _ in range(2):
        times.add((await connection.execute(select(func.now()))).scalar())
        await asyncio.sleep(0.01)
    return times


async def test_only_a_plain_sqlite_file_gets_a_held_connection(sqlite_url: str) -> None:
    urls = {
        sqlite_url: sqlite_url.split(":///", 1)[1],
        "sqlite+aiosqlite://": None,
        "sqlite+aiosqlite:///:memory:": None,
        "sqlite+aiosqlite:///file:x.db?mode=ro&uri=true": None,
        "postgresql+asyncpg://u@localhost/db": None,
    }
    for url, held in urls.items():
        engine = create_async_engine(url)
        assert sqlite_file(engine.url) == held, url
        await engine.dispose()


class OlgasDialog(NamedTuple):
    """A reader on a seeded PostgreSQL database, its engine, and a dialog the admin sees."""

    reader: DialogStatusReader
    engine: AsyncEngine
    dialog_id: int
    admin: Operator


@asynccontextmanager
async def olgas_dialog(postgres_url: str) -> AsyncIterator[OlgasDialog]:
    engine, sessions = await seeded_database(postgres_url)
    reader = DialogStatusReader(engine)
    await reader.open()
    try:
        world = await make_world(sessions)
        async with sessions() as session:
            admin = await session.scalar(select(Operator).where(Operator.login == "admin"))
        assert admin is not None
        yield OlgasDialog(reader, engine, world.dialogs["olga"], admin)
    finally:
        await reader.close()
        await engine.dispose()


async def test_a_read_survives_the_database_dropping_its_connections(postgres_url: str) -> None:
    """Without a ping before each read, a pooled connection the database closed is noticed by
    the read, which goes again on a new connection (PostgreSQL's: SQLite's is a held file)."""
    async with olgas_dialog(postgres_url) as (reader, engine, mine, admin):
        assert await reader.status(mine, admin) == SeenDialog(mine, "open")
        assert await drop_other_connections(engine) >= 1  # the reader's pooled one among them
        assert await reader.status(mine, admin) == SeenDialog(mine, "open")
        assert await reader.status(mine, admin) == SeenDialog(mine, "open")


async def test_bursts_of_reads_reuse_the_pool_without_connecting_again(postgres_url: str) -> None:
    """Replies come in bursts. More reads at once than the pool holds wait for a free
    connection; none opens a connection of its own that closes after the burst, so the next
    burst connects no more (PostgreSQL's pool: SQLite's reads share one held file)."""
    async with olgas_dialog(postgres_url) as (reader, engine, mine, admin):
        burst = 5 * READ_POOL
        backends: list[set[tuple[int, object]]] = []
        for _ in range(3):
            seen = await asyncio.gather(*(reader.status(mine, admin) for _ in range(burst)))
            assert seen == [SeenDialog(mine, "open")] * burst
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text(
                        "SELECT pid, backend_start FROM pg_stat_activity"
                        " WHERE application_name = :name"
                    ),
                    {"name": APPLICATION_NAME},
                )
                backends.append({(row.pid, row.backend_start) for row in rows})
        assert 1 <= len(backends[0]) <= READ_POOL
        assert backends[1] == backends[0] and backends[2] == backends[0]


async def test_a_busy_sqlite_read_leaves_the_loop(sqlite_url: str, tmp_path: Path) -> None:
    """On SQLite the read runs on the event loop and never waits there for a lock: when SQLite
    says busy, the read goes to the held aiosqlite connection, which waits off the loop.

    In WAL mode a reader is busy only in rare moments (a recovery of the log), so the loop's
    connection is pointed at a rollback-journal file that another connection holds
    exclusively; the held connection still reads the hub's database."""
    engine, sessions = await seeded_database(sqlite_url)
    reader = DialogStatusReader(engine)
    await reader.open()
    locker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    try:
        world = await make_world(sessions)
        async with sessions() as session:
            admin = await session.scalar(select(Operator).where(Operator.login == "admin"))
        assert admin is not None
        mine = world.dialogs["olga"]
        assert reader._read_on_loop("SELECT 1", []) == [(1,)]  # answered on the loop
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            reader._read_on_loop("SELECT * FROM nowhere", [])  # other errors are raised

        locker.execute("CREATE TABLE t (x INTEGER)")
        locker.execute("BEGIN EXCLUSIVE")
        locker.execute("INSERT INTO t VALUES (1)")
        assert reader._on_loop is not None
        reader._on_loop.close()
        reader._on_loop = sqlite3.connect(tmp_path / "locked.db", timeout=0)
        started = time.perf_counter()
        assert reader._read_on_loop("SELECT x FROM t", []) is None  # busy: not here
        assert time.perf_counter() - started < 0.5  # and it did not wait on the loop
        assert await reader.status(mine, admin) == SeenDialog(mine, "open")
    finally:
        locker.close()
        await reader.close()
        await engine.dispose()
