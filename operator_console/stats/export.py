"""The dialog report as CSV: every row the filters match, in the report's order, streamed.

Rows come from a server-side cursor in batches of ``BATCH`` and each batch is written to the
response before the next is read, so a million rows never sit in memory, on either database.
Cells are the JSON row's values: ``true``/``false`` for booleans, empty for null. A cell that
a spreadsheet would run as a formula gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from operator_console.stats.dialogs import Selection
from operator_console.stats.filters import ReportQuery
from operator_console.stats.report import ROW_KEYS, iso_utc, sorted_select

BATCH = 2000
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
_TIMES = (ROW_KEYS.index("started_at"), ROW_KEYS.index("last_activity_at"))


def row_cells(row: Sequence[Any]) -> list[Any]:
    """A report row as it comes from the database, as CSV cells: ``csv_cell`` of each value
    of its JSON form, column by column (the writer prints None as empty, numbers as digits)."""
    cells = list(row[: len(ROW_KEYS)])
    for i in _TEXT:
        text = cells[i]
        if text and text.startswith(FORMULA_STARTS):
            cells[i] = "'" + text
    flag = cells[_FLAG]
    if flag is not None:
        cells[_FLAG] = "true" if flag else "false"
    for i in _TIMES:
        cells[i] = iso_utc(cells[i])
    return cells


def csv_lines(rows: Iterable[Sequence[Any]], header: bool = False) -> bytes:
    """Report rows (from the database) as CSV bytes, with the header row first when asked."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(ROW_KEYS)
    writer.writerows(row_cells(row) for row in rows)
    return buffer.getvalue().encode()


async def stream_csv(
    request: web.Request, session: AsyncSession, selection: Selection, query: ReportQuery
) -> web.StreamResponse:
    """Write the whole report to the client as ``text/csv``, batch by batch."""
    stmt = await sorted_select(session, selection, query.model_copy(update={"after": None}))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="dialogs.csv"',
            "Cache-Control": "no-store",
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(csv_lines((), header=True))
    result = await session.stream(stmt.execution_options(yield_per=BATCH))
    async for batch in result.partitions(BATCH):
        await response.write(csv_lines(batch))
    await response.write_eof()
    return response
