"""The router's writer on SQLite holds the write lock from the start of each batch, and waits
for another process's lock in steps of its own (``core.db.write_lock``)."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db.engine import BUSY_TIMEOUT_MS
from core.db.write_lock import URGENT, take_write_lock
from core.db.writer import DbWriter


def _other_process(path: Path) -> sqlite3.Connection:
    """A connection as another process's writer has one: no busy wait of its own here."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
    other.execute("PRAGMA journal_mode=WAL")
    return other


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "lock.db"
    with _other_process(path) as setup:
        setup.execute("CREATE TABLE notes (body TEXT)")
    return path


async def test_the_routers_batch_holds_the_write_lock_before_it_writes(tmp_path: Path) -> None:
    path = _database(tmp_path)
    url = f"sqlite+aiosqlite:///{path}"
    other = _other_process(path)
    router, sink = DbWriter(url, urgent=True), DbWriter(url)
    refused: list[str] = []

    def try_to_write() -> None:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            refused.append(str(err))
        else:
            other.execute("ROLLBACK")

    def batch(writer: DbWriter) -> object:
        async def work() -> int:
            async with writer.sessions() as session, session.begin():
                count = (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one()
                try_to_write()  # between the batch's read and its write
                await session.execute(text("INSERT INTO notes VALUES ('x')"))
                return int(count)

        return work

    try:
        await router.run(batch(router))  # type: ignore[arg-type]
        assert refused == ["database is locked"]
        # The sink's writer takes the lock only where it writes (or asks: crm_sink.locks).
        await sink.run(batch(sink))  # type: ignore[arg-type]
        assert refused == ["database is locked"]
    finally:
        router.close()
        sink.close()
        other.close()


def _lock_held_by_another(tmp_path: Path) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """The other process's connection, holding the write lock after writing 'first'; ours."""
    path = _database(tmp_path)
    holder = _other_process(path)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO notes VALUES ('first')")
    mine = sqlite3.connect(path, isolation_level=None)
    mine.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return holder, mine


def test_the_lock_is_taken_once_the_other_writer_lets_go(tmp_path: Path) -> None:
    holder, mine = _lock_held_by_another(tmp_path)
    tried = threading.Event()

    def commit_later() -> None:
        tried.wait(5)
        holder.execute("COMMIT")

    release = threading.Thread(target=commit_later)
    release.start()
    tries = 0
    real_sleep = time.sleep

    def counted_sleep(seconds: float) -> None:
        nonlocal tries
        tries += 1
        tried.set()
        real_sleep(seconds)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("core.db.write_lock.time.sleep", counted_sleep)
            take_write_lock(mine, URGENT)
        assert tries >= 1, "the lock was held when the writer first asked"
        assert mine.in_transaction
        mine.execute("INSERT INTO notes VALUES ('second')")
        mine.execute("COMMIT")
        assert [r[0] for r in mine.execute("SELECT body FROM notes")] == ["first", "second"]
        # Later statements wait for a lock as every connection of the hub does.
        assert mine.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    finally:
        tried.set()
        release.join()
        holder.close()
        mine.close()


def test_a_writer_that_never_gets_the_lock_fails_and_says_why(tmp_path: Path) -> None:
    holder, mine = _lock_held_by_another(tmp_path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            take_write_lock(mine, dataclasses.replace(URGENT, timeout_s=0.05))
        assert not mine.in_transaction
        assert mine.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    finally:
        holder.close()
        mine.close()
