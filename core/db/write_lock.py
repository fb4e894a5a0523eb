"""SQLite's write lock, taken at the start of each of the router's batches and waited for in
short steps.

The writers of one process take turns at their ``WriteGate``, a whole batch at a time. Writers
in processes of their own (``openlines run --role``) meet only at SQLite's lock, and two things
went wrong there:

* The driver begins a transaction at a batch's first write. The batch's reads before it ran
  outside any transaction, so another process could commit between what the router read and
  what it wrote on that basis: the CRM sink merging the client of a message being stored, an
  admin taking an operator off the line being routed.
* SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25 … up to 100 ms between tries, however
  soon the lock is free. In a burst of new clients the sink's process took the lock for a lead
  now and then, and a router batch that met it slept on past the sink's commit.

So each transaction of the router's writer begins with ``BEGIN IMMEDIATE``, which takes the
lock before anything is read, and the wait for it is ours: tries ``first_wait_s`` apart at
first, doubling up to ``max_wait_s``. The sink's writer keeps SQLite's handler and its long
sleeps, and takes the lock only where it must (``crm_sink.locks``): its leads may wait, and
every millisecond it holds the lock is one the router's batches wait.

A batch that runs on the hub's own event loop (``DbWriter``'s ``inline``) must not wait there:
under ``lock_now_or_never`` the lock is tried once, and ``WriteLockBusy`` says another process
holds it, before the transaction has done anything.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from core.db.engine import BUSY_TIMEOUT_MS


@dataclass(frozen=True)
class LockWait:
    """How often a writer tries for the lock while another process holds it."""

    first_wait_s: float
    max_wait_s: float
    timeout_s: float = BUSY_TIMEOUT_MS / 1000


URGENT = LockWait(first_wait_s=0.0002, max_wait_s=0.001)


class WriteLockBusy(Exception):
    """Another connection holds SQLite's write lock, and this transaction may not wait for it
    (``lock_now_or_never``); it has begun nothing."""


_now_or_never: ContextVar[bool] = ContextVar("write_lock_now_or_never", default=False)


@contextmanager
def lock_now_or_never() -> Iterator[None]:
    """Within: a transaction that begins while the write lock is held elsewhere raises
    ``WriteLockBusy`` at once instead of waiting. A context variable, so that it holds for the
    task that set it and for no other task of the loop."""
    token = _now_or_never.set(True)
    try:
        yield
    finally:
        _now_or_never.reset(token)


def begin_with_the_lock(engine: Engine, wait: LockWait) -> None:
    """Make every transaction on ``engine`` (SQLite, synchronous driver) begin holding the
    write lock."""

    @event.listens_for(engine, "connect")
    def _own_transactions(dbapi_conn: Any, _record: Any) -> None:
        # The driver begins no transaction of its own: the "begin" hook below does.
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        take_write_lock(driver, wait)


def take_write_lock(driver: sqlite3.Connection, wait: LockWait) -> None:
    """``BEGIN IMMEDIATE`` on ``driver``, tried again while another connection holds the lock;
    ``sqlite3.OperationalError`` (database is locked) after ``wait.timeout_s``."""
    driver.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + wait.timeout_s
        pause = wait.first_wait_s
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if err.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                if _now_or_never.get():
                    raise WriteLockBusy("another connection holds SQLite's write lock") from err
                if time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, wait.max_wait_s)
    finally:
        # Any later statement that meets a lock (a rare one, with the write lock held) waits as
        # every connection of the hub does.
        driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
