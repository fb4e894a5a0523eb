"""The router's database writer: its own thread, a synchronous driver, one hand-off."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.util.concurrency import in_greenlet

from core.db import make_engine
from core.db.writer import SWITCH_INTERVAL_S, DbWriter, WriteGate, sync_url, write_gate
from tests.support.router_db import drop_other_connections


def test_the_writer_uses_the_synchronous_driver_of_the_hubs_database() -> None:
    assert sync_url("sqlite+aiosqlite:///var/a.db") == "sqlite+pysqlite:///var/a.db"
    assert (
        sync_url("postgresql+asyncpg://u:secret@127.0.0.1:5432/hub")
        == "postgresql+psycopg://u:secret@127.0.0.1:5432/hub"
    )


async def test_a_batch_runs_on_the_writers_thread_and_commits_for_the_hubs_readers(
    db_url: str,
) -> None:
    readers = make_engine(db_url)
    writer = DbWriter(db_url)
    try:
        async with readers.begin() as conn:
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))

        async def batch() -> str:
            async with writer.sessions() as session, session.begin():
                await session.execute(text("INSERT INTO notes (id, body) VALUES (1, 'hello')"))
                await session.execute(text("INSERT INTO notes (id, body) VALUES (2, 'there')"))
            return threading.current_thread().name

        assert await writer.run(batch) == "db-writer"
        async with readers.connect() as conn:
            rows = (await conn.execute(text("SELECT body FROM notes ORDER BY id"))).all()
        assert [r.body for r in rows] == ["hello", "there"]

        async def failing() -> None:
            async with writer.sessions() as session, session.begin():
                await session.execute(text("INSERT INTO notes (id, body) VALUES (3, 'lost')"))
                await session.execute(text("INSERT INTO notes (id, body) VALUES (1, 'again')"))

        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            await writer.run(failing)
        async with readers.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM notes"))).scalar_one()
        assert count == 2, "a failed batch is rolled back whole"
    finally:
        writer.close()
        await readers.dispose()


def test_the_hubs_loop_waits_briefly_for_the_lock_while_the_writer_runs(db_url: str) -> None:
    """Each turn of the hub's loop gives the interpreter lock up; while a batch runs on the
    writer's thread, getting it back must not cost Python's default 5 ms a turn."""
    default = sys.getswitchinterval()
    first, second = DbWriter(db_url), DbWriter(db_url)
    try:
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S < default
        first.close()
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S, "the second one still runs"
    finally:
        first.close()
        second.close()
    assert sys.getswitchinterval() == default


async def test_the_writers_of_one_sqlite_database_take_turns_the_urgent_one_first(
    tmp_path: Path,
) -> None:
    """A batch waits at the process's gate, not in SQLite's busy handler, and the router's
    (urgent) batch goes before the sink's that waited longer."""
    url = f"sqlite+aiosqlite:///{tmp_path}/turns.db"
    sink, later_sink, router = DbWriter(url), DbWriter(url), DbWriter(url, urgent=True)
    gate = write_gate(url)
    assert gate is not None
    order: list[str] = []
    holding = threading.Event()
    go_on = threading.Event()

    def batch(writer: DbWriter, name: str, hold: bool = False) -> Any:
        async def work() -> None:
            async with writer.sessions() as session, session.begin():
                order.append(name)
                await session.execute(text("INSERT INTO turns (name) VALUES (:n)"), {"n": name})
                if hold:
                    holding.set()
                    while not go_on.is_set():  # mid-transaction, with SQLite's write lock held
                        await asyncio.sleep(0.005)

        return work

    async def until(condition: Any) -> None:
        for _ in range(1000):
            if condition():
                return
            await asyncio.sleep(0.005)
        raise AssertionError("never happened")

    try:
        setup = make_engine(url)
        async with setup.begin() as conn:
            await conn.execute(text("CREATE TABLE turns (name TEXT)"))
        await setup.dispose()
        first = asyncio.create_task(sink.run(batch(sink, "sink", hold=True)))
        await until(holding.is_set)
        waiting_sink = asyncio.create_task(later_sink.run(batch(later_sink, "later sink")))
        await until(lambda: gate.waiting == 1)
        waiting_router = asyncio.create_task(router.run(batch(router, "router")))
        await until(lambda: gate.waiting == 2)
        go_on.set()
        await asyncio.gather(first, waiting_sink, waiting_router)
        assert order == ["sink", "router", "later sink"]
    finally:
        for writer in (sink, later_sink, router):
            writer.close()


def test_a_writer_that_gets_no_turn_says_so() -> None:
    gate = WriteGate()
    gate.acquire(urgent=False)
    with pytest.raises(TimeoutError, match="no turn"):
        gate.acquire(urgent=True, timeout_s=0.01)
    assert gate.waiting == 0
    gate.release()
    gate.acquire(urgent=False, timeout_s=0.01)


def test_writers_of_postgresql_take_no_turns() -> None:
    """Row locks let them write other rows together."""
    assert write_gate("postgresql+asyncpg://u:pw@127.0.0.1:5432/hub") is None
    assert write_gate("sqlite+aiosqlite:///a.db") is write_gate("sqlite+aiosqlite:///a.db")


class _Base(DeclarativeBase):
    pass


class _Note(_Base):
    __tablename__ = "direct_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str]


async def test_the_writers_sessions_call_the_driver_directly_with_the_same_transactions(
    db_url: str,
) -> None:
    """No greenlet per call on the writer's thread; begin, savepoints, commit, rollback and
    every call a batch makes behave as through ``AsyncSession``."""
    writer = DbWriter(db_url)
    spawned: list[bool] = []

    @event.listens_for(writer.engine.sync_engine, "before_cursor_execute")
    def _seen(*_args: Any) -> None:
        spawned.append(in_greenlet())

    async def setup() -> None:
        async with writer.sessions() as session, session.begin():
            await session.run_sync(lambda sync: _Base.metadata.create_all(sync.connection()))

    async def batch() -> list[str]:
        async with writer.sessions() as session, session.begin():
            session.add(_Note(id=1, body="kept"))
            await session.flush()
            assert (await session.get(_Note, 1)) is not None
            with pytest.raises(RuntimeError):
                async with session.begin_nested():
                    session.add(_Note(id=2, body="taken back"))
                    await session.flush()
                    raise RuntimeError("the savepoint only")
            session.add(_Note(id=3, body="gone again"))
            await session.flush()
            await session.delete(await session.get(_Note, 3))
            assert await session.scalar(select(func.count()).select_from(_Note)) == 1
            return list(await session.scalars(select(_Note.body)))

    async def failing() -> None:
        async with writer.sessions() as session, session.begin():
            session.add(_Note(id=4, body="lost"))
            await session.flush()
            raise RuntimeError("the whole batch")

    async def stored() -> list[str]:
        async with writer.sessions() as session:
            result = await session.execute(select(_Note.body).order_by(_Note.id))
            return list(result.scalars())

    try:
        await writer.run(setup)
        assert await writer.run(batch) == ["kept"]
        with pytest.raises(RuntimeError, match="whole batch"):
            await writer.run(failing)
        assert await writer.run(stored) == ["kept"]
        assert spawned and not any(spawned)
    finally:
        writer.close()


async def test_cancelling_the_caller_cancels_its_batch_on_the_writers_thread(
    tmp_path: Path,
) -> None:
    writer = DbWriter(f"sqlite+aiosqlite:///{tmp_path}/writer.db")
    started = threading.Event()
    stopped: list[str] = []

    async def endless() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.append(threading.current_thread().name)
            raise

    async def name() -> str:
        return threading.current_thread().name

    try:
        call = asyncio.ensure_future(writer.run(endless))
        assert await asyncio.to_thread(started.wait, 10)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        for _ in range(1000):
            if stopped:
                break
            await asyncio.sleep(0.005)
        assert stopped == ["db-writer"]
        assert await writer.run(name) == "db-writer", "the writer goes on with the next batch"
    finally:
        writer.close()


async def test_a_batch_on_a_connection_the_database_closed_runs_again_on_a_new_one(
    postgres_url: str,
) -> None:
    """The writer sends no ping before each batch: a pooled connection that PostgreSQL
    closed is found by the batch's first statement, and the batch, rolled back with it, runs
    once more (SQLite's connection is a file and never closes under the writer)."""
    readers = make_engine(postgres_url)
    writer = DbWriter(postgres_url)
    attempts: list[int] = []

    async def batch() -> int:
        async with writer.sessions() as session, session.begin():
            attempts.append(1)
            await session.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
            count = await session.scalar(text("SELECT count(*) FROM notes"))
        return int(count or 0)

    try:
        async with readers.begin() as conn:
            await conn.execute(text("CREATE TABLE notes (id SERIAL PRIMARY KEY, body TEXT)"))
        assert await writer.run(batch) == 1
        pool: Any = writer.engine.sync_engine.pool
        assert pool.checkedin() == 1, "pooled for the next batch"
        assert await drop_other_connections(readers) >= 1
        attempts.clear()
        assert await writer.run(batch) == 2, "the batch was stored once"
        assert len(attempts) == 2, "its first attempt met the closed connection"
        attempts.clear()
        assert await writer.run(batch) == 3
        assert len(attempts) == 1
    finally:
        writer.close()
        await readers.dispose()


def _temp_files_open() -> list[str]:
    """SQLite's temporary files this process holds open (unlinked, so only /proc shows them)."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink()
        except OSError:
            continue  # closed since the listing
        if "etilqs_" in target.name:
            found.append(str(target))
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
async def test_a_large_statement_in_the_writers_transaction_writes_no_temporary_file(
    tmp_path: Path,
) -> None:
    # A statement that may fail halfway keeps the stored pages it changes in a statement
    # journal, and past 64 KiB SQLite spills that journal to a temporary file: a system call
    # for each page, in each large batch, for a journal that never outlives the transaction.
    url = f"sqlite+aiosqlite:///{tmp_path / 'big.db'}"
    readers = make_engine(url)
    writer = DbWriter(url)
    try:
        async with readers.begin() as conn:
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
            await conn.execute(text("CREATE UNIQUE INDEX notes_body ON notes (body)"))
            # 2 000 rows of 200 bytes: a hundred pages and more, stored before the batch.
            await conn.execute(
                text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < 2000) INSERT INTO notes (body) "
                    "SELECT printf('%d-%.200c', i, 'x') FROM n"
                )
            )

        async def batch() -> tuple[list[str], int]:
            async with writer.sessions() as session, session.begin():
                await session.execute(text("INSERT INTO notes (body) VALUES ('first')"))
                await session.execute(text("UPDATE notes SET body = body || '!' WHERE id <= 2000"))
                open_now = _temp_files_open()
                changed = await session.scalar(
                    text("SELECT count(*) FROM notes WHERE body LIKE '%!'")
                )
            return open_now, int(changed or 0)

        open_during, changed = await writer.run(batch)
        assert changed == 2000
        assert open_during == []
    finally:
        writer.close()
        await readers.dispose()
