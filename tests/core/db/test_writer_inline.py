"""An inline writer: a batch runs on the caller's loop when it can start at once, and on the
writer's thread when it would have to wait."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.db import make_engine
from core.db.writer import DbWriter, write_gate

Batch = Callable[[], Coroutine[Any, Any, str]]


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("never happened")


async def _notes(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS notes (body TEXT)"))
            return list(
                (await conn.execute(text("SELECT body FROM notes ORDER BY rowid"))).scalars()
            )
    finally:
        await engine.dispose()


def _note(writer: DbWriter, body: str, attempts: list[str] | None = None) -> Batch:
    """A batch that stores ``body`` and returns the name of the thread it ran on."""

    async def batch() -> str:
        async with writer.sessions() as session, session.begin():
            if attempts is not None:
                attempts.append(threading.current_thread().name)
            await session.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": body})
        return threading.current_thread().name

    return batch


async def test_a_batch_whose_turn_is_free_runs_on_the_callers_loop(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/inline.db"
    await _notes(url)
    writer = DbWriter(url, urgent=True, inline=True)
    here = threading.current_thread().name

    async def failing() -> str:
        async with writer.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO notes (body) VALUES ('lost')"))
            raise RuntimeError("the whole batch")

    try:
        assert await writer.run(_note(writer, "first")) == here
        with pytest.raises(RuntimeError, match="whole batch"):
            await writer.run(failing)
        assert await writer.run(_note(writer, "second")) == here, "the turn was given back"
        assert await _notes(url) == ["first", "second"]
    finally:
        writer.close()


async def test_a_cancelled_inline_batch_gives_the_turn_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/inline.db"
    await _notes(url)
    writer = DbWriter(url, urgent=True, inline=True)
    started = asyncio.Event()

    async def endless() -> str:
        async with writer.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO notes (body) VALUES ('cancelled')"))
            started.set()
            await asyncio.Event().wait()
        return "never"

    try:
        call = asyncio.create_task(writer.run(endless))
        await started.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await writer.run(_note(writer, "next")) == threading.current_thread().name
        assert await _notes(url) == ["next"]
    finally:
        writer.close()


async def test_a_batch_goes_to_the_thread_while_another_writer_of_the_process_has_the_turn(
    tmp_path: Path,
) -> None:
    """The caller's loop does not wait for the sink's transaction: the writer's thread does."""
    url = f"sqlite+aiosqlite:///{tmp_path}/inline.db"
    await _notes(url)
    sink, router = DbWriter(url), DbWriter(url, urgent=True, inline=True)
    gate = write_gate(url)
    assert gate is not None
    holding, go_on = threading.Event(), threading.Event()

    async def sink_batch() -> str:
        async with sink.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO notes (body) VALUES ('sink')"))
            holding.set()
            while not go_on.is_set():  # mid-transaction, holding the process's turn
                await asyncio.sleep(0.005)
        return threading.current_thread().name

    try:
        first = asyncio.create_task(sink.run(sink_batch))
        await _until(holding.is_set)
        routed = asyncio.create_task(router.run(_note(router, "router")))
        # The router's batch waits at the gate on its thread while this loop goes on: were it
        # waiting here, the loop could not get on to let the sink finish.
        await _until(lambda: gate.waiting == 1)
        go_on.set()
        assert await routed == "db-writer"
        assert await first == "db-writer"
        assert await _notes(url) == ["sink", "router"]
    finally:
        sink.close()
        router.close()


async def test_a_batch_goes_to_the_thread_while_another_process_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    """Another process's transaction (here another connection, which SQLite's lock does not
    tell apart): the batch meets the held lock as its transaction begins, before it has done
    anything, and runs again on the thread, which waits for the lock instead of the loop."""
    url = f"sqlite+aiosqlite:///{tmp_path}/inline.db"
    await _notes(url)
    writer = DbWriter(url, urgent=True, inline=True)
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
    attempts: list[str] = []
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO notes (body) VALUES ('other process')")
        routed = asyncio.create_task(writer.run(_note(writer, "router", attempts)))
        await _until(lambda: len(attempts) == 2)
        # Only a loop that is not stuck in the batch's wait for the lock gets here.
        other.execute("COMMIT")
        assert await routed == "db-writer"
        assert attempts == [threading.current_thread().name, "db-writer"]
        assert await _notes(url) == ["other process", "router"], "stored once"
        assert await writer.run(_note(writer, "later")) == threading.current_thread().name
    finally:
        other.close()
        writer.close()


def test_only_an_urgent_writer_runs_inline(tmp_path: Path) -> None:
    """Only an urgent writer's transactions take the lock as they begin (core.db.write_lock),
    where a lock held elsewhere is found before the batch has done anything."""
    with pytest.raises(ValueError, match="urgent"):
        DbWriter(f"sqlite+aiosqlite:///{tmp_path}/inline.db", inline=True)


async def test_on_postgresql_every_batch_goes_to_the_thread(postgres_url: str) -> None:
    """Each statement waits for the server: that wait is the thread's, never the loop's."""
    writer = DbWriter(postgres_url, urgent=True, inline=True)

    async def name() -> str:
        return threading.current_thread().name

    try:
        assert await writer.run(name) == "db-writer"
    finally:
        writer.close()
