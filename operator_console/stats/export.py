"""The dialog report as CSV: every row the filters match, in the report's order, streamed.

Rows come from a server-side cursor in batches of ``BATCH`` and each batch is written to the
response before the next is read, so a million rows never sit in memory, on either database.
They are read as plain rows (not through the ORM), with the instants already as ISO text.
Cells are the JSON row's values: ``true``/``false`` for booleans, empty for null. A cell that
a spreadsheet would run as a formula gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from operator_console.stats.dialogs import Selection
from operator_console.stats.filters import ReportQuery
from operator_console.stats.report import ROW_KEYS, sorted_select

BATCH = 5000
"""Rows read and written at a time."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """One cell as written: booleans as ``true``/``false``, null as empty, text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return str(value)


_TEXT = tuple(
    i
    for i, key in enumerate(ROW_KEYS)
    if key
    in (
        "channel_kind",
        "channel_name",
        "line_name",
        "status",
        "client_name",
        "crm",
        "operator_name",
        "outcome",
        "closed_by",
    )
)
_FLAG = ROW_KEYS.index("in_hours")


def row_cells(row: Sequence[Any]) -> list[Any]:
    """A row of the export's select (instants already ISO text), as CSV cells: ``csv_cell``
    of each value of its JSON form (the writer prints None as empty, numbers as digits)."""
    cells = list(row[: len(ROW_KEYS)])
    for i in _TEXT:
        text = cells[i]
        if text and text.startswith(FORMULA_STARTS):
            cells[i] = "'" + text
    flag = cells[_FLAG]
    if flag is not None:
        cells[_FLAG] = "true" if flag else "false"
    return cells


def csv_lines(rows: Iterable[Sequence[Any]], header: bool = False) -> bytes:
    """Report rows (from the database) as CSV bytes, with the header row first when asked."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(ROW_KEYS)
    writer.writerows(row_cells(row) for row in rows)
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
