"""Core statements run straight on the driver's cursor, each compiled once.

Through a SQLAlchemy ``Connection`` a read of the router cost about 106 µs of CPU on the
database writer's thread (SQLite), against 11 µs for the same SQL on the bare cursor and 25 µs
here (docs/BENCHMARKS.md): the rest is what SQLAlchemy builds for every call, a cache-key walk,
an execution context and a result with its metadata. The router sends the same few statements
in every batch, so here each is compiled once per dialect into the driver's SQL and the
converters of its parameters and columns (the same ones SQLAlchemy would apply), and runs on
the cursor of the caller's connection: in the same transaction, with the same values in and
out.

The statement goes through the ``Connection`` as usual instead:

- on a connection with cursor-event listeners (statement counters, tracing), so that they see
  every statement;
- through an async driver (the console's engine), whose cursor has to be awaited;
- for what is not handled here: an empty expanding list, a column default computed in Python,
  a paramstyle other than ``?`` or ``%s``, expanding lists in an ``executemany``.

A driver's error is raised as SQLAlchemy's ``DBAPIError``, as the ``Connection`` would raise
it: the router's retries of write conflicts catch that. A converter's own error (a naive
datetime for a UTC column, say) is raised as the ``Connection``'s ``StatementError`` too.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

Processor = Callable[[Any], Any] | None

PLACEHOLDERS = {"qmark": "?", "format": "%s"}
"""The positional paramstyles handled, with each one's placeholder."""

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""One mapping of bound values, or a list of them for a statement run for many rows."""


EMPTY: Mapping[str, Any] = {}

Call = tuple[Any, Params]
"""A statement and its bound values (one row's, or many rows'), as ``run_together`` takes
them."""

_EXPANDING = re.compile(r"__\[POSTCOMPILE_(\w+)\]")

INSERT_PAGE = 200
"""Rows per INSERT … VALUES (…), (…) of many rows: well below SQLite's 32,766 parameters for
the widest table the router inserts into."""


@dataclass
class _Plan:
    """A statement compiled for one dialect (and, for INSERT and UPDATE, one set of keys)."""

    sql: str
    binds: tuple[str, ...]
    """The bound names in the order of the placeholders (an expanding one once per place)."""
    processors: tuple[Processor, ...]
    defaults: dict[str, Any]
    """Values of bound parameters the statement carries itself (a literal ``IN`` list, say)."""
    expanding: frozenset[str]
    row: Any
    """The rows' type, a named tuple of the statement's columns; None when it returns none."""
    results: tuple[Processor, ...]
    placeholder: str
    values: str | None
    """An INSERT's ``(?, ?, …)`` group, repeated for many rows; None for other statements."""
    by_lengths: dict[tuple[int, ...], str] = field(default_factory=dict)

    def positional(self, params: Mapping[str, Any]) -> list[Any]:
        """``params`` (and the statement's own values) in placeholder order, converted."""
        out: list[Any] = []
        defaults = self.defaults
        for name, process in zip(self.binds, self.processors, strict=True):
            value = params[name] if name in params else defaults[name]
            if name in self.expanding:
                out.extend(value if process is None else map(process, value))
            else:
                out.append(value if process is None else process(value))
        return out

    def expanded_sql(self, params: Mapping[str, Any]) -> str | None:
        """The SQL with each expanding list's placeholders; None for an empty list."""
        if not self.expanding:
            return self.sql
        lengths = tuple(
            len(params[name] if name in params else self.defaults[name])
            for name in sorted(self.expanding)
        )
        if 0 in lengths:
            return None
        sql = self.by_lengths.get(lengths)
        if sql is None:
            sizes = dict(zip(sorted(self.expanding), lengths, strict=True))
            sql = _EXPANDING.sub(
                lambda m: ", ".join([self.placeholder] * sizes[m.group(1)]), self.sql
            )
            self.by_lengths[lengths] = sql
        return sql

    def rows(self, raw: Iterable[Iterable[Any]]) -> list[Any]:
        """The driver's rows as named tuples, each column converted."""
        make = self.row._make
        if not any(self.results):
            return [make(r) for r in raw]
        results = self.results
        return [
            make([v if p is None else p(v) for p, v in zip(results, r, strict=True)]) for r in raw
        ]


async def core_rows(
    session: AsyncSession,
    statement: Any,
    params: Params = EMPTY,
) -> Sequence[Any]:
    """Run a Core ``statement`` after the session's pending changes; its rows, if any.

    The session autoflushes before an ORM read only; this flushes first as well, so that a
    Core statement never misses what its own transaction changed (a flush with nothing
    pending costs next to nothing). On the writer's thread the statement runs on the driver's
    cursor."""
    return await session.run_sync(_flushed_run, statement, params)


def _flushed_run(session: Session, statement: Any, params: Params) -> list[Any]:
    session.flush()
    return run(session.connection(), statement, params)


_plans: dict[tuple[Any, ...], _Plan | None] = {}
"""Plans by (statement, dialect, driver, paramstyle, keys); None for a statement left to
SQLAlchemy.
Bounded: the statements are built once each (``functools.cache``) and few."""


def run(connection: Connection, statement: Any, params: Params) -> list[Any]:
    """Run ``statement`` with ``params`` on ``connection``; its rows (named tuples, or
    SQLAlchemy's rows where it went through the connection), or an empty list for a statement
    that returns none."""
    chosen = _chosen(connection, statement, params)
    if chosen is None:
        return _through_sqlalchemy(connection, statement, params)
    steps = _steps(connection, *chosen, params)
    try:
        found: list[Any] = []
        for step in steps:
            _guard(connection, step.sql, step.values, step.send)
            found.extend(step.rows(connection))
        return found
    finally:
        for step in steps:
            step.cursor.close()


async def core_rows_together(session: AsyncSession, calls: Sequence[Call]) -> list[Sequence[Any]]:
    """``core_rows`` of each (statement, params) of ``calls``, in one round trip where the
    driver can: statements that do not depend on each other's rows (``run_together``)."""
    return await session.run_sync(_flushed_run_together, calls)


def _flushed_run_together(session: Session, calls: Sequence[Call]) -> list[Sequence[Any]]:
    session.flush()
    return run_together(session.connection(), calls)


def run_together(connection: Connection, calls: Sequence[Call]) -> list[Sequence[Any]]:
    """``run`` of each call, in order. On psycopg the statements go in one pipeline: sent
    together, answered in one round trip. A batch of the router on PostgreSQL waited for the
    server 72 % of its time, nine round trips for one inbound message, and several of its
    statements need nothing from the others' rows (docs/BENCHMARKS.md): reads, and writes whose
    answer is only their row count or their returned rows. Elsewhere (SQLite, a statement this
    module leaves to SQLAlchemy) one after the other, as ``run`` would."""
    chosen = (
        [_chosen(connection, statement, params) for statement, params in calls]
        if len(calls) > 1 and connection.dialect.driver == "psycopg"
        else [None]
    )
    if None in chosen:
        return [run(connection, statement, params) for statement, params in calls]
    driver = connection.connection.driver_connection
    sent: list[list[_Sent]] = []

    def send() -> None:
        with driver.pipeline():  # type: ignore[union-attr]
            for one in sent:
                for step in one:
                    step.send()

    try:
        for (_statement, params), pick in zip(calls, chosen, strict=True):
            assert pick is not None
            sent.append(_steps(connection, *pick, params))
        steps = [step for one in sent for step in one]
        # A failed statement fails the pipeline as it ends: the error names them all.
        _guard(connection, "; ".join(s.sql for s in steps), [s.values for s in steps], send)
        # Out of the pipeline, every answer is in: each cursor holds its statement's rows.
        return [[row for step in one for row in step.rows(connection)] for one in sent]
    finally:
        for one in sent:
            for step in one:
                step.cursor.close()


@dataclass
class _Sent:
    """One cursor's part of a ``run``: a statement, or an ``executemany`` of it."""

    cursor: Any
    plan: _Plan
    sql: str
    sent: str
    """``sql`` as the cursor takes it (``_cursor``)."""
    values: list[Any]
    """The positional values; a list of them per row for ``many``."""
    many: bool = False

    def send(self) -> None:
        if self.many:
            self.cursor.executemany(self.sent, self.values)
        else:
            self.cursor.execute(self.sent, self.values)

    def rows(self, connection: Connection) -> list[Any]:
        if self.many or self.plan.row is None:
            return []
        return self.plan.rows(_guard(connection, self.sql, self.values, self.cursor.fetchall))


def _steps(connection: Connection, plan: _Plan, sql: str, params: Params) -> list[_Sent]:
    """What ``run`` sends for ``params``, each part on a cursor of its own: one statement, an
    ``executemany`` of a write that returns nothing, or an INSERT's pages of rows."""
    if isinstance(params, Mapping):
        return [_sent(connection, plan, sql, _positional(plan, sql, params))]
    rows = list(params)
    if plan.values is None or plan.row is None:
        values = [_positional(plan, sql, p) for p in rows]
        return [_sent(connection, plan, sql, values, many=True)]
    steps: list[_Sent] = []
    for start in range(0, len(rows), INSERT_PAGE):
        page = rows[start : start + INSERT_PAGE]
        paged = sql.replace(plan.values, ", ".join([plan.values] * len(page)), 1)
        values = [v for p in page for v in _positional(plan, paged, p)]
        steps.append(_sent(connection, plan, paged, values))
    return steps


def _sent(
    connection: Connection, plan: _Plan, sql: str, values: list[Any], many: bool = False
) -> _Sent:
    cursor, sent_as = _cursor(connection)
    return _Sent(cursor, plan, sql, sent_as(sql), values, many)


def cursor_sql(connection: Connection, statement: Any, params: Params) -> str | None:
    """The SQL ``run`` sends to the cursor for ``statement`` with ``params`` (for one row of
    an INSERT; with ``%s`` where psycopg is sent ``$n``), or None where it goes through the
    connection: for logs, and for tests of which path runs."""
    chosen = _chosen(connection, statement, params)
    return None if chosen is None else chosen[1]


@dataclass(frozen=True)
class DriverCall:
    """A statement as a driver takes it: for a connection of the driver's own (the console's
    held SQLite connection, ``operator_console.dialog_status``)."""

    sql: str
    values: list[Any]
    plan: _Plan

    def rows(self, raw: Iterable[Iterable[Any]]) -> list[Any]:
        """The driver's rows of this call as ``run`` gives them."""
        return self.plan.rows(raw)


def driver_call(dialect: Dialect, statement: Any, params: Mapping[str, Any]) -> DriverCall | None:
    """``statement`` with ``params`` as SQL and positional values for ``dialect``'s driver,
    or None for what this does not handle."""
    plan = _plan_for(dialect, statement, params)
    sql = None if plan is None else plan.expanded_sql(params)
    if plan is None or sql is None:
        return None
    return DriverCall(sql, _positional(plan, sql, params), plan)


def _listed(params: Params) -> list[Mapping[str, Any]]:
    return [params] if isinstance(params, Mapping) else list(params)


def _chosen(connection: Connection, statement: Any, params: Params) -> tuple[_Plan, str] | None:
    """The plan and SQL for the cursor, or None for the connection."""
    rows = _listed(params)
    plan = _plan(connection, statement, rows[0]) if rows else None
    if plan is None or (plan.expanding and not isinstance(params, Mapping)):
        return None
    sql = plan.expanded_sql(rows[0])
    return None if sql is None else (plan, sql)


def _positional(plan: _Plan, sql: str, params: Mapping[str, Any]) -> list[Any]:
    """``plan.positional(params)``; a converter's own error (a naive datetime for a UTC column,
    say) is raised as SQLAlchemy raises it from a ``Connection``: a ``StatementError``."""
    try:
        return plan.positional(params)
    except Exception as err:
        kind = f"{type(err).__module__}.{type(err).__qualname__}"
        raise StatementError(f"({kind}) {err}", sql, [params], err) from err


def _cursor(connection: Connection) -> tuple[Any, Callable[[str], str]]:
    """A cursor of the connection's driver, and what the SQL becomes for it: for psycopg a
    cursor that takes ``$n`` placeholders.

    psycopg rewrites ``%s`` into PostgreSQL's ``$n`` at each execution, and keeps the rewrite
    only of statements with at most 50 parameters: the set-wise statements of a batch of
    twenty messages have more, and were rewritten every time (3–4 % of the hub's CPU on
    PostgreSQL). Rewritten here once per text (``numbered``), they go out as they are."""
    driver = connection.connection.driver_connection
    if connection.dialect.driver == "psycopg":
        from psycopg import RawCursor

        return RawCursor(driver), numbered  # type: ignore[arg-type]
    return driver.cursor(), _as_is  # type: ignore[union-attr]


def _as_is(sql: str) -> str:
    return sql


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """A ``%s`` statement with ``$1``, ``$2``… and each ``%%`` back to ``%``: as PostgreSQL
    takes it, through psycopg's raw cursor or asyncpg."""
    count = itertools.count(1)
    return _FORMAT_MARKS.sub(lambda m: "%" if m.group() == "%%" else f"${next(count)}", sql)


_FORMAT_MARKS = re.compile(r"%%|%s")


def _guard(connection: Connection, sql: str, values: Any, call: Callable[[], Any]) -> Any:
    """``call()``, with a driver's error raised as SQLAlchemy's."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        return call()
    except dbapi.Error as err:
        raise DBAPIError.instance(
            sql, values, err, dbapi.Error, dialect=connection.dialect
        ) from err


def _through_sqlalchemy(connection: Connection, statement: Any, params: Params) -> list[Any]:
    result = connection.execute(statement, params)
    return list(result.all()) if result.returns_rows else []


def _plan(connection: Connection, statement: Any, params: Mapping[str, Any]) -> _Plan | None:
    dialect = connection.dialect
    if dialect.is_async or _watched(connection):
        return None
    return _plan_for(dialect, statement, params)


def _plan_for(dialect: Dialect, statement: Any, params: Mapping[str, Any]) -> _Plan | None:
    keys = tuple(sorted(params)) if statement.is_dml else ()
    key = (statement, dialect.name, dialect.driver, dialect.paramstyle, keys)
    try:
        return _plans[key]
    except KeyError:
        plan = _plans[key] = _compile(dialect, statement, keys)
        return plan


def _watched(connection: Connection) -> bool:
    """Whether listeners wait for the statements of ``connection``."""
    dispatch = connection.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _compile(dialect: Dialect, statement: Any, keys: tuple[str, ...]) -> _Plan | None:
    placeholder = PLACEHOLDERS.get(dialect.paramstyle)
    if placeholder is None:
        return None
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys) or None)
    if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
        return None  # a default computed in Python for each row
    binds = tuple(compiled.positiontup or ())
    params = compiled.binds
    if any(p.callable is not None for p in params.values()):
        return None  # a value computed at each execution
    expanding = frozenset(n for n in binds if params[n].expanding)
    columns = statement.exported_columns
    row = namedtuple("Row", list(columns.keys())) if len(columns) else None
    values = _values_group(compiled.string) if statement.is_insert and row is not None else None
    if values == "":
        return None  # no VALUES group that repeats for many rows
    return _Plan(
        sql=compiled.string,
        binds=binds,
        processors=tuple(_bind_processor(dialect, params[n]) for n in binds),
        defaults={n: p.value for n, p in params.items() if not p.required},
        expanding=expanding,
        row=row,
        results=tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ),
        placeholder=placeholder,
        values=values,
    )


def _bind_processor(dialect: Dialect, bind: Any) -> Processor:
    processor: Processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _values_group(sql: str) -> str:
    """The ``(…)`` after ``VALUES`` in an INSERT of one row, or "" where there is not exactly
    one (its placeholders may carry casts, as PostgreSQL's are rendered)."""
    start = sql.find(" VALUES (")
    if start < 0:
        return ""
    start += len(" VALUES ")
    depth = 0
    for end in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        if depth == 0:
            group = sql[start : end + 1]
            return group if sql.count(group) == 1 else ""
    return ""
