"""The reply's visibility read (``dialog_status``) on PostgreSQL, straight on asyncpg.

Through SQLAlchemy's async engine, even in autocommit and without the ORM, the read cost the
hub 176 µs of CPU (a greenlet, the connection's checkout and the result's machinery around
asyncpg's own work); on a pool of asyncpg's, with the statement compiled once per role and
prepared by asyncpg on each connection, it costs 80 µs. Every operator reply makes one.

The console's dialog reads (``operator_console.dialog_reads``) run here too, several statements
in one read-only snapshot (``snapshot``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import cache
from typing import Any, TypeVar

import asyncpg
import orjson
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db.on_cursor import driver_call, numbered

APPLICATION_NAME = "openlines-dialog-status"
"""How these connections show in ``pg_stat_activity``."""
DROPPED = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # The server's notice that it ended an idle connection, met by the next query.
    asyncpg.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,
    OSError,
)
"""What a read on a connection the server or the network dropped raises: the pool then
replaces the connection, and the read goes again on another one."""


@cache
def as_psycopg() -> Dialect:
    """What a snapshot's statements are compiled for (``core.db.on_cursor``, which runs the
    router's statements on psycopg's cursor), then numbered for asyncpg: the same SQL, and the
    converters of the columns, which leave JSON to the driver as asyncpg's codecs here do
    (``_json_codecs``). Made at the first read: a hub on SQLite loads no PostgreSQL dialect."""
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    dialect: Dialect = PGDialect_psycopg(paramstyle="format")  # type: ignore[no-untyped-call]
    return dialect


T = TypeVar("T")

Read = Callable[[Any, Mapping[str, Any]], Awaitable[list[Any]]]
"""Runs a statement with its bound values in a snapshot's transaction: its rows, as named
tuples of its columns."""


class Unhandled(Exception):
    """A statement a snapshot cannot run: one ``driver_call`` does not handle."""


class PostgresReads:
    """A pool of ``size`` asyncpg connections, opened as reads need them and then kept: a pool
    that closed what a burst opened connected again at every burst (see ``READ_POOL``)."""

    def __init__(self, pool: asyncpg.Pool, dialect: Dialect) -> None:
        self.pool = pool
        self.dialect = dialect
        self._compiled: dict[int, tuple[Any, str, tuple[str, ...]]] = {}
        """By the statement's identity: its SQL and parameter names (and the statement itself,
        so that the identity stays its own)."""

    @classmethod
    async def open(cls, engine: AsyncEngine, size: int) -> PostgresReads | None:
        """The reads for ``engine``'s database; None unless it is PostgreSQL through asyncpg
        with nothing in the URL's query (options meant for SQLAlchemy, which asyncpg would
        not take)."""
        url = engine.url
        if url.drivername != "postgresql+asyncpg" or url.query:
            return None
        pool = await asyncpg.create_pool(
            url.set(drivername="postgresql").render_as_string(hide_password=False),
            min_size=0,
            max_size=size,
            max_inactive_connection_lifetime=0,
            server_settings={"application_name": APPLICATION_NAME},
            reset=_nothing_to_reset,
            init=_json_codecs,
        )
        return cls(pool, engine.dialect)

    async def first(self, statement: Any, params: dict[str, Any]) -> Any:
        """The first row of ``statement`` (the same object each time for the same SQL) with
        ``params``, or None."""
        sql, names = self._sql(statement)
        values = [params[name] for name in names]
        try:
            return await self.pool.fetchrow(sql, *values)
        except DROPPED:
            # Noticed by the read itself rather than by a ping before each: once per outage.
            return await self.pool.fetchrow(sql, *values)

    async def snapshot(self, reads: Callable[[Read], Coroutine[Any, Any, T]]) -> T:
        """What ``reads`` makes of the rows it reads, all in one read-only transaction that
        sees one snapshot (``REPEATABLE READ``): a commit between two of its statements is not
        seen, as on SQLite. ``Unhandled`` for a statement ``driver_call`` does not handle."""
        try:
            return await self._snapshot(reads)
        except DROPPED:
            # As ``first``: the reads change nothing, so they can go again on another one.
            return await self._snapshot(reads)

    async def _snapshot(self, reads: Callable[[Read], Coroutine[Any, Any, T]]) -> T:
        async with self.pool.acquire() as connection:

            async def read(statement: Any, params: Mapping[str, Any]) -> list[Any]:
                call = driver_call(as_psycopg(), statement, params)
                if call is None:
                    raise Unhandled
                return call.rows(await connection.fetch(numbered(call.sql), *call.values))

            async with connection.transaction(isolation="repeatable_read", readonly=True):
                return await reads(read)

    def _sql(self, statement: Any) -> tuple[str, tuple[str, ...]]:
        found = self._compiled.get(id(statement))
        if found is None:
            compiled = statement.compile(dialect=self.dialect)
            found = (statement, compiled.string, tuple(compiled.positiontup or ()))
            self._compiled[id(statement)] = found
        return found[1], found[2]

    async def close(self) -> None:
        """Close the pool's connections."""
        await self.pool.close()


async def _json_codecs(connection: asyncpg.Connection) -> None:
    """JSON columns read as Python values, as psycopg reads them: asyncpg's own are text."""
    for kind in ("json", "jsonb"):
        await connection.set_type_codec(
            kind, schema="pg_catalog", encoder=_json_text, decoder=orjson.loads
        )


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _nothing_to_reset(_connection: asyncpg.Connection) -> None:
    """A single autocommit read changes no session state, so a connection goes back to the
    pool as it is: asyncpg's own reset is a query of its own after each read (advisory locks,
    cursors, listeners, settings), a round trip and as much of the server's work as the read."""
