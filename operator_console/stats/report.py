"""The dialog report: one row per dialog, sorted, paged by keyset (never OFFSET).

A page ends with the cursor of its last row: the sort value and the dialog id, which breaks
ties. The next page is the rows strictly after that pair in the sort order, so a page costs
the same however deep it is, and rows added meanwhile never shift or repeat rows.

Dialogs with no value in the sort column (no first response yet, still open, no rating) come
last in either order: the column is sorted with a stand-in value below or above every real one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.db.crm_schema import CrmDialogLink
from core.db.schema import NO_FIGURE_LAST, Channel, Client, Dialog, Line, Operator
from operator_console.auth import http_error
from operator_console.stats import csv_cells
from operator_console.stats.dialogs import AnySelect, Selection
from operator_console.stats.filters import ReportQuery, SortKey

ROW_KEYS = (
    "dialog_id",
    "channel_kind",
    "channel_id",
    "channel_name",
    "line_id",
    "line_name",
    "status",
    "client_id",
    "client_name",
    "crm",
    "client_messages",
    "operator_messages",
    "in_hours",
    "operator_id",
    "operator_name",
    "started_at",
    "first_response_s",
    "duration_s",
    "last_activity_at",
    "outcome",
    "closed_by",
    "rating",
)
"""The columns of a report row, in order (the CSV header)."""

LAST = 2**31 - 1
"""Stand-in for a missing number, above every real one (sorted last when ascending): 68
years of seconds, and within a 32-bit integer, which PostgreSQL compares the columns as."""


def _sort_column(sort: SortKey, ascending: bool) -> ColumnElement[Any] | InstrumentedAttribute[Any]:
    if sort == "started_at":
        return Dialog.opened_at
    if sort == "last_activity_at":
        return Dialog.last_message_at
    value = {
        "first_response_s": Dialog.first_response_s,
        "duration_s": Dialog.duration_s,
        "rating": Dialog.rating,
    }[sort]
    # Written as the literal the sort's index holds (``schema.sort_index_expression``), so
    # that both databases walk that index instead of sorting every selected dialog.
    return func.coalesce(value, literal_column(str(NO_FIGURE_LAST["asc" if ascending else "desc"])))


def report_select(selection: Selection, as_csv: bool = False) -> AnySelect:
    """Every column of a report row, for the selected dialogs (not yet limited or sorted);
    ``as_csv``: as the CSV's cells (``csv_cells``), on SQLite as one column, the whole CSV
    line."""
    columns = _row_columns(selection.dialect if as_csv else None)
    if as_csv and selection.dialect == "sqlite":
        columns = [csv_cells.sqlite_line(columns)]
    return (
        select(*columns)
        .select_from(Dialog)
        .join(Channel, Channel.id == Dialog.channel_id)
        .join(Line, Line.id == Dialog.line_id)
        .join(Client, Client.id == Dialog.client_id)
        .outerjoin(Operator, Operator.id == Dialog.operator_id)
        .outerjoin(CrmDialogLink, CrmDialogLink.dialog_id == Dialog.id)
    )


def _row_columns(csv_dialect: str | None) -> list[Any]:
    """The columns of ``ROW_KEYS``; with a dialect, as the CSV's cells in that dialect."""
    started: Any = Dialog.opened_at
    last_activity: Any = Dialog.last_message_at
    in_hours: Any = Dialog.began_in_hours
    names: list[Any] = [Channel.name, Line.name, Client.name, Operator.name]
    if csv_dialect is not None:
        started = csv_cells.iso_instant(csv_dialect, Dialog.opened_at)
        last_activity = csv_cells.iso_instant(csv_dialect, Dialog.last_message_at)
        in_hours = csv_cells.flag(csv_dialect, Dialog.began_in_hours)
        names = [csv_cells.name_cell(csv_dialect, name) for name in names]
    channel_name, line_name, client_name, operator_name = names
    crm = case(
        (CrmDialogLink.lead_id.is_not(None), literal("lead")),
        (CrmDialogLink.dialog_id.is_not(None), literal("contact")),
        else_=None,
    )
    return [
        Dialog.id,
        Channel.kind,
        Dialog.channel_id,
        channel_name,
        Dialog.line_id,
        line_name,
        Dialog.status,
        Dialog.client_id,
        client_name,
        crm,
        Dialog.client_messages,
        Dialog.operator_messages,
        in_hours,
        Dialog.operator_id,
        operator_name,
        started,
        Dialog.first_response_s,
        Dialog.duration_s,
        last_activity,
        Dialog.outcome,
        Dialog.closed_by,
        Dialog.rating,
    ]


def iso_utc(at: datetime) -> str:
    """An instant as ISO 8601 in UTC, ``2026-03-29T01:30:00Z``."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def row_json(row: Row[Any] | Sequence[Any]) -> dict[str, Any]:
    """A report row as the API shows it."""
    values = list(row[: len(ROW_KEYS)])
    out = dict(zip(ROW_KEYS, values, strict=True))
    out["started_at"] = iso_utc(out["started_at"])
    out["last_activity_at"] = iso_utc(out["last_activity_at"])
    return out


async def sorted_select(
    session: AsyncSession, selection: Selection, query: ReportQuery, for_csv: bool = False
) -> AnySelect:
    """The report's rows in the query's order, after its cursor; the sort value last (not
    for the CSV, whose rows are its cells)."""
    ascending = query.order == "asc"
    column = _sort_column(query.sort, ascending)
    stmt = report_select(selection, as_csv=for_csv)
    stmt = await selection.apply(session, stmt if for_csv else stmt.add_columns(column))
    if query.after is not None:
        value, last_id = _read_cursor(query)
        later = column > value if ascending else column < value
        same = column == value
        next_id = Dialog.id > last_id if ascending else Dialog.id < last_id
        stmt = stmt.where(or_(later, and_(same, next_id)))
    order = (column.asc(), Dialog.id.asc()) if ascending else (column.desc(), Dialog.id.desc())
    return stmt.order_by(*order)


async def report_page(
    session: AsyncSession, selection: Selection, query: ReportQuery
) -> dict[str, Any]:
    """One page of the report: ``{"rows": [...], "next": cursor | None}``."""
    stmt = await sorted_select(session, selection, query)
    rows = (await session.execute(stmt.limit(query.limit + 1))).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = _cursor(query, rows[-1][-1], rows[-1][0]) if more and rows else None
    return {"rows": [row_json(row) for row in rows], "next": cursor}


def _cursor(query: ReportQuery, value: Any, dialog_id: int) -> str:
    shown = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([query.sort, query.order, shown, dialog_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_cursor(query: ReportQuery) -> tuple[Any, int]:
    """The sort value and dialog id of a cursor; 400 when it is not one of this sort."""
    assert query.after is not None
    try:
        padded = query.after + "=" * (-len(query.after) % 4)
        sort, order, value, dialog_id = json.loads(base64.urlsafe_b64decode(padded))
        if (sort, order) != (query.sort, query.order) or not isinstance(dialog_id, int):
            raise ValueError("another sort")
        if sort in ("started_at", "last_activity_at"):
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError("naive instant")
        elif not isinstance(value, int) or not -1 <= value <= LAST:
            raise ValueError("not a figure of this sort")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise http_error(web.HTTPBadRequest, "after: not a cursor of this sort and order") from None
    return value, dialog_id
