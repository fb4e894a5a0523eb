"""The one read behind every operator reply and typing signal: the status of a dialog the
caller may see (``core.audience``), else nothing.

An operator's reply costs the console this read and a publish, so it is kept cheap. Its
statement is built once per role, with the dialog and the operator as bound parameters. On
SQLite it runs, compiled once (``core.db.on_cursor``), on a connection of its own, held for
the life of the application: a read through a pooled session costs a greenlet, the ORM's
execution, a pool check-out and a rollback on return, several times the query itself. SQLite
in WAL mode answers each such read from the latest commit, as a fresh session would, and
never waits for a writer: so the read runs on the event loop itself, through the standard
``sqlite3`` driver, where aiosqlite's hand-off to its thread and back cost several times the
read. Only when SQLite says busy (a recovery of the log, a migration's lock) does the read go
to the held aiosqlite connection, which waits off the loop. Other
databases go through a small pool of their own in autocommit, without the ORM (on PostgreSQL
through asyncpg, a pool of asyncpg's own: ``dialog_status_pg``): through the
engine's pool a read on PostgreSQL cost five round trips (the check-out's ping in a transaction
of its own, then BEGIN, the read and ROLLBACK); in autocommit and without the ping it costs
one, and a connection the database dropped is noticed by the read itself, which then goes
again on a new one. One statement sees the latest commit either way.

The held SQLite connection also serves the console's dialog reads (``snapshot``,
``operator_console.dialog_reads``): several statements in one read transaction on the loop; on
PostgreSQL they go to asyncpg's pool, in one read-only transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from enum import Enum
from functools import cache
from typing import Any, NamedTuple, TypeVar

import aiosqlite
from aiohttp import web
from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.app_keys import SESSIONS
from core.audience import visible_dialogs
from core.db.engine import SQLITE_PRAGMAS, sqlite_file
from core.db.on_cursor import driver_call
from core.db.schema import Dialog, Operator
from operator_console.dialog_status_pg import PostgresReads, Read, Unhandled

SQLITE_TIMEOUT_S = 30.0
"""How long a read waits for a lock, as the engine's own SQLite connections do."""
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
"""SQLite's primary codes for a lock held elsewhere: the read on the loop then goes off it."""
READ_POOL = 8
"""Connections for the reads on a database other than SQLite, all kept open: a read waits for
a free one rather than open another. A pool that opened extra connections in a burst and closed
them again after it spent a twentieth of the hub's CPU on PostgreSQL connecting (asyncpg's
attempt at TLS, authentication, preparing the statement again on each new connection) under a
steady load of replies."""


T = TypeVar("T")

Reads = Callable[[Read], Coroutine[Any, Any, T]]
"""What a ``snapshot`` runs: it reads statements' rows with the ``Read`` it is given, and makes
something of them."""


class NotHere(Enum):
    """What ``snapshot`` gives when it cannot read: the caller reads through its session."""

    NOT_HERE = "not here"


NOT_HERE = NotHere.NOT_HERE


class SeenDialog(NamedTuple):
    """A dialog the caller may see: what a reply needs to know of it."""

    id: int
    status: str


@cache
def status_query(role: str) -> Select[int, str]:
    """The statement for an operator of ``role``, the dialog and the operator bound as
    ``dialog_id`` and ``operator_id``. Built once per role: building the visibility rule's
    subqueries and walking them for the cache key cost more than running it."""
    query = select(Dialog.id, Dialog.status).where(
        Dialog.id == bindparam("dialog_id", type_=Integer)
    )
    rule = visible_dialogs(bindparam("operator_id", type_=Integer), role)
    return query if rule is None else query.where(rule)


class DialogStatusReader:
    """Reads ``status_query`` for one caller at a time; ``open`` before use, ``close`` after."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._held: aiosqlite.Connection | None = None
        self._on_loop: sqlite3.Connection | None = None
        """The held file's connection for reads on the event loop: never waits for a lock."""
        self._reads: AsyncEngine = engine
        """Where a read goes when there is no held connection."""
        self._postgres: PostgresReads | None = None
        """PostgreSQL's reads straight on asyncpg, where the engine's driver is asyncpg."""

    async def open(self) -> None:
        """Connect the held SQLite connection when the database is an SQLite file, else make
        the pool of autocommit reads (an in-memory or URI-named SQLite keeps the engine's)."""
        path = sqlite_file(self.engine.url)
        if path is None:
            self._postgres = await PostgresReads.open(self.engine, READ_POOL)
            if self._postgres is None and self.engine.url.get_backend_name() != "sqlite":
                self._reads = create_async_engine(
                    self.engine.url,
                    isolation_level="AUTOCOMMIT",
                    pool_size=READ_POOL,
                    max_overflow=0,
                )
            return
        held = await aiosqlite.connect(path, timeout=SQLITE_TIMEOUT_S)
        for pragma in SQLITE_PRAGMAS:
            await held.execute(pragma)
        self._held = held
        # Autocommit: each read is a transaction of its own, on the latest commit.
        self._on_loop = sqlite3.connect(path, timeout=0, isolation_level=None)

    async def close(self) -> None:
        """Close the held connection or the reads' pool, if any."""
        held, self._held = self._held, None
        if held is not None:
            await held.close()
        on_loop, self._on_loop = self._on_loop, None
        if on_loop is not None:
            on_loop.close()
        reads, self._reads = self._reads, self.engine
        if reads is not self.engine:
            await reads.dispose()
        postgres, self._postgres = self._postgres, None
        if postgres is not None:
            await postgres.close()

    async def status(self, dialog_id: int, operator: Operator) -> SeenDialog | None:
        """The dialog's id and status when ``operator`` may see it, else None."""
        params = {"dialog_id": dialog_id, "operator_id": operator.id}
        statement = status_query(operator.role)
        held = self._held
        call = None if held is None else driver_call(self.engine.dialect, statement, params)
        if held is not None and call is not None:
            rows = self._read_on_loop(call.sql, call.values)
            if rows is None:
                rows = list(await held.execute_fetchall(call.sql, call.values))
            for dialog, status in call.rows(rows):
                return SeenDialog(dialog, status)
            return None
        if self._postgres is not None:
            found = await self._postgres.first(statement, params)
            return None if found is None else SeenDialog(found[0], found[1])
        for attempt in range(2):
            try:
                async with self._reads.connect() as connection:
                    row: Any = (await connection.execute(statement, params)).first()
                break
            except DBAPIError as exc:
                # A pooled connection the database dropped (a restart, say): SQLAlchemy has
                # let go of it and of every other connection as old, so a second read opens
                # a new one. One failed read per outage instead of a ping before each read.
                if attempt or not exc.connection_invalidated:
                    raise
        return None if row is None else SeenDialog(row.id, row.status)

    async def snapshot(self, reads: Reads[T]) -> T | NotHere:
        """What ``reads`` makes of the rows it reads, all in one read transaction: on the held
        SQLite connection, on the loop, or on PostgreSQL's pool of asyncpg. ``NOT_HERE`` where
        there is neither, for a statement ``driver_call`` does not handle, and when SQLite is
        busy."""
        try:
            if self._postgres is not None:
                return await self._postgres.snapshot(reads)
            return self._on_loop_snapshot(reads)
        except Unhandled:
            return NOT_HERE

    def _on_loop_snapshot(self, reads: Reads[T]) -> T | NotHere:
        connection = self._on_loop
        if connection is None:
            return NOT_HERE
        dialect = self.engine.dialect

        async def read(statement: Any, params: Mapping[str, Any]) -> list[Any]:
            call = driver_call(dialect, statement, params)
            if call is None:
                raise Unhandled
            return call.rows(connection.execute(call.sql, call.values).fetchall())

        try:
            # One snapshot for every statement: a commit between two of them is not seen.
            connection.execute("BEGIN")
            try:
                return _at_once(reads(read))
            finally:
                connection.execute("COMMIT")  # a read: nothing to keep, nothing to undo
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in _BUSY:
                return NOT_HERE
            raise

    def _read_on_loop(self, sql: str, values: Sequence[Any]) -> list[Any] | None:
        """The rows of the read, run on the loop; None when SQLite is busy (the caller then
        waits off the loop)."""
        if self._on_loop is None:
            return None
        try:
            return self._on_loop.execute(sql, values).fetchall()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in _BUSY:
                return None
            raise


def _at_once(reading: Coroutine[Any, Any, T]) -> T:
    """What ``reading`` gives, run to its end here and now. On the held connection its reads
    never wait, and must not: between two of them another task could begin a read transaction
    of its own on the same connection."""
    try:
        reading.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    reading.close()
    raise RuntimeError("a read on the held SQLite connection waited")


DIALOG_STATUS = web.AppKey("dialog_status", DialogStatusReader)
"""This application's reader of visible dialogs' status."""


async def dialog_status_reader(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` step, after the database: the application's ``DialogStatusReader``."""
    engine = app[SESSIONS].kw["bind"]
    reader = DialogStatusReader(engine)
    await reader.open()
    app[DIALOG_STATUS] = reader
    try:
        yield
    finally:
        await reader.close()
