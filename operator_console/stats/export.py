"""The dialog report as CSV: every row the filters match, in the report's order, streamed.

The database makes every value into its cell (``csv_cells``) and writes the CSV itself, so
that no row is built in Python: on PostgreSQL ``COPY (…) TO STDOUT``, whose chunks pass
straight to the response; on SQLite a select of one column, each row's whole CSV line
(``csv_cells.sqlite_line``), read from a cursor in batches of ``BATCH``, each batch written to
the response before the next is read. Either way a million rows
never sit in memory. Cells are the JSON row's values: ``true``/``false`` for booleans, empty
for null. A cell that a spreadsheet would run as a formula gets a leading apostrophe.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import Select, Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from core.db.schema import Dialog
from operator_console.stats.csv_cells import FORMULA_STARTS
from operator_console.stats.dialogs import Selection
from operator_console.stats.filters import ReportQuery
from operator_console.stats.report import ROW_KEYS, sorted_select

S = TypeVar("S", bound=Select[Any])

BATCH = 20_000
"""Rows read and written at a time."""

COPY_CHUNKS = 8
"""Chunks of PostgreSQL's CSV held between the server and a slow client before COPY waits."""

COPY_SORT_MEMORY = "128MB"
"""PostgreSQL's ``work_mem`` for the export's transaction. With the default 4 MB a million
rows are sorted in runs merged on disk, and the planner joins the channels after the parallel
workers' merge, so the one backend that writes the CSV also makes every cell; with this the
sort stays in memory and every join and cell is done by the parallel workers."""


def csv_cell(value: Any) -> str:
    """One cell as written: booleans as ``true``/``false``, null as empty, text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return str(value)


def csv_lines(rows: Iterable[Sequence[Any]], header: bool = False) -> bytes:
    """Rows of cells as CSV bytes, with the header row first when asked."""
    buffer = io.StringIO()
    # LF, as PostgreSQL's COPY ends lines: one export reads the same from either database.
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(ROW_KEYS)
    writer.writerows(rows)
    return buffer.getvalue().encode()


async def csv_batches(
    session: AsyncSession, selection: Selection, query: ReportQuery
) -> AsyncIterator[bytes]:
    """The whole report as CSV bytes, header first, a batch of rows at a time."""
    stmt = await sorted_select(session, selection, query.model_copy(update={"after": None}), True)
    yield csv_lines((), header=True)
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        async for chunk in _copied(connection, stmt):
            yield chunk
        return
    stmt = scanned_when_broad(stmt, selection)
    result = await connection.stream(stmt.execution_options(yield_per=BATCH))
    async for lines in result.scalars().partitions(BATCH):
        yield "".join(lines).encode()  # each line ends in its LF


@compiles(Table, "sqlite")
def _table_with_hint(table: Table, compiler: SQLCompiler, **kw: Any) -> str:
    """A table in FROM with its SQLite hint (``with_hint(…, dialect_name="sqlite")``), such
    as ``NOT INDEXED``, which SQLAlchemy's SQLite compiler leaves out."""
    text: str = compiler.visit_table(table, **kw)  # type: ignore[no-untyped-call]
    hints = kw.get("fromhints")
    if kw.get("asfrom") and hints and table in hints:
        text += " " + hints[table]
    return text


def scanned_when_broad(stmt: S, selection: Selection) -> S:
    """``stmt`` reading ``dialogs`` NOT INDEXED on SQLite when the selection is every line's
    dialogs of every day, channel and operator.

    For (nearly) every dialog SQLite would walk an index (the start's, or a line's) and fetch
    each dialog's row by id, out of order; reading the table in order and sorting takes about
    half the CPU. A selective filter keeps the planner's choice.
    """
    f, scope = selection.filters, selection.scope
    broad = (
        f.days() == (None, None)
        and f.line_id is None
        and f.channel_id is None
        and f.operator_id is None
        and scope.line_ids is None
        and not scope.own_dialogs
    )
    return stmt.with_hint(Dialog, "NOT INDEXED", dialect_name="sqlite") if broad else stmt


async def _copied(connection: AsyncConnection, stmt: Any) -> AsyncIterator[bytes]:
    """The rows of ``stmt`` as CSV written by PostgreSQL, chunk by chunk.

    asyncpg hands COPY's output to a callback; a bounded queue turns that into chunks this
    generator yields, and makes the server wait while the client is slow.
    """
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    args = [compiled.params[name] for name in compiled.positiontup or ()]
    # LOCAL: the setting ends with the session's transaction, never reaching the pool.
    await connection.exec_driver_sql(f"SET LOCAL work_mem = '{COPY_SORT_MEMORY}'")
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(COPY_CHUNKS)

    async def copy() -> None:
        try:
            await driver.copy_from_query(compiled.string, *args, output=chunks.put, format="csv")
        finally:
            await chunks.put(None)

    task = asyncio.create_task(copy())
    try:
        while (chunk := await chunks.get()) is not None:
            yield chunk
        await task  # raises what COPY raised
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def stream_csv(
    request: web.Request, session: AsyncSession, selection: Selection, query: ReportQuery
) -> web.StreamResponse:
    """Write the whole report to the client as ``text/csv``, batch by batch."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="dialogs.csv"',
            "Cache-Control": "no-store",
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    async for chunk in csv_batches(session, selection, query):
        await response.write(chunk)
    await response.write_eof()
    return response
