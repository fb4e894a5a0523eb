"""Counting SQL statements, for query-count assertions on hot paths (STYLE.md; like Zulip's
``assert_database_query_count``): a change that adds a statement per message shows up as a
failing count, not as a slower benchmark weeks later."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool


class Statements(list[str]):
    """The SQL sent while counting, one entry per cursor execution (an ``executemany`` of many
    rows is one entry, as it is one round trip)."""

    def report(self) -> str:
        """Every statement on its own line, for a failing assertion's message."""
        return "\n".join(f"{n + 1:3}. {' '.join(s.split())[:160]}" for n, s in enumerate(self))


@contextmanager
def count_queries(engine: AsyncEngine) -> Iterator[Statements]:
    """Record the statements ``engine`` sends inside the block.

    While the listener is there, the statements the router would run on the driver's cursor
    go through SQLAlchemy's connection instead (``core.db.on_cursor``), so that each is seen;
    they are the same statements, so the count is the same."""
    seen = Statements()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@contextmanager
def count_round_trips(trace: Path) -> Iterator[Callable[[], int]]:
    """Count the round trips that psycopg connections checked out inside the block wait for:
    the answers that end in ``ReadyForQuery``, one for each ``Sync`` and each simple query,
    however many statements each covers (a pipeline sends several before one ``Sync``).
    ``trace``: a file for libpq's trace.

    Statement listeners (``count_queries``) would make ``core.db.on_cursor`` leave the
    pipeline, so this reads libpq's own trace instead and leaves the statements' path as it
    is."""
    traced: list[Any] = []
    with trace.open("w") as out:

        def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
            pgconn = getattr(dbapi_conn, "pgconn", None)  # psycopg's; asyncpg has none
            if pgconn is not None and pgconn not in traced:
                pgconn.trace(out.fileno())
                traced.append(pgconn)

        def sent() -> int:
            out.flush()
            return sum(1 for line in trace.read_text().splitlines() if _answered(line))

        event.listen(Pool, "checkout", checkout)
        try:
            yield sent
        finally:
            event.remove(Pool, "checkout", checkout)
            for pgconn in traced:
                pgconn.untrace()


def _answered(line: str) -> bool:
    """A line of libpq's trace for the end of an answer, ``[time]\tB\tlength\tReadyForQuery``:
    one for each ``Sync`` sent and each simple query (``BEGIN``)."""
    fields = line.split("\t")
    return "B" in fields[:2] and "ReadyForQuery" in fields
