"""The router's writer leaves SQLite's checkpoints to a thread of its own
(``core.db.checkpoint``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from core.db import make_engine
from core.db.checkpoint import WalCheckpoints
from core.db.writer import DbWriter


async def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.02)


async def test_the_routers_commits_leave_the_checkpoint_to_a_thread_that_copies_the_log_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hub.db"
    url = f"sqlite+aiosqlite:///{path}"
    readers = make_engine(url)
    writer = DbWriter(url, urgent=True, inline=True, checkpoints=True)
    assert writer.checkpoints is not None
    try:
        async with readers.begin() as conn:
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        start_size = path.stat().st_size

        async def batch() -> int:
            async with writer.sessions() as session, session.begin():
                automatic = await session.scalar(text("PRAGMA wal_autocheckpoint"))
                # 3 000 rows of 2 KB: 1 500 pages and more, past SQLite's own mark of 1 000.
                await session.execute(
                    text(
                        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                        "WHERE i < 3000) INSERT INTO notes (body) "
                        "SELECT printf('%d-%.2000c', i, 'x') FROM n"
                    )
                )
            return int(automatic)

        assert await writer.run(batch) == 0  # the commit does not checkpoint
        # The thread copies the log into the database file, which grows by the rows' pages.
        checkpoints = writer.checkpoints
        await _until(lambda: checkpoints.done >= 1)
        assert checkpoints.done >= 1
        assert path.stat().st_size > start_size + 6_000_000
        async with readers.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM notes")) == 3000

        # With no commits the thread sleeps.
        done = checkpoints.done
        await asyncio.sleep(checkpoints.pause_s + 0.3)
        assert checkpoints.done == done
    finally:
        writer.close()
        await readers.dispose()
    assert not writer.checkpoints._thread.is_alive()


def test_checkpoints_closed_before_any_commit_leave_no_file(tmp_path: Path) -> None:
    checkpoints = WalCheckpoints(str(tmp_path / "never.db"))
    checkpoints.close()
    assert checkpoints.done == 0
    assert not (tmp_path / "never.db").exists()


def test_only_a_writer_of_an_sqlite_file_checkpoints_on_its_own() -> None:
    memory = DbWriter("sqlite+aiosqlite:///:memory:", urgent=True, checkpoints=True)
    plain = DbWriter("sqlite+aiosqlite:///unused.db")
    try:
        assert memory.checkpoints is None
        assert plain.checkpoints is None
    finally:
        memory.close()
        plain.close()
