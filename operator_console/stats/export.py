"""The dialog report as CSV: every row the filters match, in the report's order, streamed.

Rows come from a server-side cursor in batches of ``BATCH`` and each batch is written to the
response before the next is read, so a million rows never sit in memory, on either database.
They are read as plain rows (not through the ORM) whose values the database has already made
into the cells (``csv_cells``), so the CSV writer takes them as they are. Cells are the JSON
row's values: ``true``/``false`` for booleans, empty for null. A cell that a spreadsheet would
run as a formula gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from operator_console.stats.csv_cells import FORMULA_STARTS
from operator_console.stats.dialogs import Selection
from operator_console.stats.filters import ReportQuery
from operator_console.stats.report import ROW_KEYS, sorted_select

BATCH = 20_000
"""Rows read and written at a time."""


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
    """Rows of the export's select (already its cells) as CSV bytes, with the header row
    first when asked."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
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
    result = await connection.stream(stmt.execution_options(yield_per=BATCH))
    async for batch in result.partitions(BATCH):
        yield csv_lines(batch)


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
