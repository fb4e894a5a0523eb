"""Counting SQL statements, for query-count assertions on hot paths (STYLE.md; like Zulip's
``assert_database_query_count``): a change that adds a statement per message shows up as a
failing count, not as a slower benchmark weeks later."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


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
