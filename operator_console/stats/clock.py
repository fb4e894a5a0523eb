"""Local time of each dialog's line, in SQL that means the same on SQLite and PostgreSQL.

Neither database is asked about time zones: Python's zoneinfo finds the spans of constant UTC
offset of every line's zone over the dates in question, and they go into the query as a small
table, one row per span. A dialog joins the span of its line that holds its ``opened_at``; its
local time is ``opened_at`` plus that span's offset. A day with a daylight-saving change is
therefore 23 or 25 hours long, and a dialog opened at 01:30 UTC on 2026-03-29 is on Sunday 03:30 in
Europe/Berlin.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Subquery,
    and_,
    cast,
    func,
    literal,
    literal_column,
    select,
    union_all,
)

from config.schedule import Schedule
from core.db.schema import Dialog, UtcDateTime

STEP = timedelta(hours=6)
"""How finely a zone is probed for offset changes: no zone changes its offset twice within
six hours."""


@dataclass(frozen=True, slots=True)
class LineClock:
    """What the statistics need to know of a line: its name, zone and working hours (None:
    always open)."""

    line_id: int
    name: str
    zone: ZoneInfo
    schedule: Schedule | None

    def midnight(self, day: date) -> datetime:
        """The UTC instant the line's local ``day`` begins."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    def local_day(self, at: datetime) -> date:
        """The line's local date at the instant ``at``."""
        return at.astimezone(self.zone).date()


def offset_spans(
    zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, int]]:
    """``(from, to, offset seconds)`` spans of constant UTC offset covering ``[start, end)``."""
    spans: list[tuple[datetime, datetime, int]] = []
    begin, at = start, start
    offset = _offset(zone, start)
    while at < end:
        probe = min(at + STEP, end)
        if _offset(zone, probe) != offset:
            change = _change_within(zone, at, probe)
            spans.append((begin, change, offset))
            begin, offset = change, _offset(zone, change)
        at = probe
    spans.append((begin, end, offset))
    return spans


def _offset(zone: ZoneInfo, at: datetime) -> int:
    delta = at.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _change_within(zone: ZoneInfo, low_at: datetime, high_at: datetime) -> datetime:
    """The first whole second in (low_at, high_at] with the offset of ``high_at``."""
    low, high = math.floor(low_at.timestamp()), math.ceil(high_at.timestamp())
    before = _offset(zone, low_at)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, datetime.fromtimestamp(middle, UTC)) == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


class LocalClock:
    """The spans table of some lines over ``[start, end)`` and the local-time expressions of
    a query that joins it (``join_on``) — for one SQL dialect."""

    def __init__(
        self, dialect: str, lines: Iterable[LineClock], start: datetime, end: datetime
    ) -> None:
        self.dialect = dialect
        rows: list[tuple[Any, ...]] = [
            (line.line_id, since, until, offset, f"{offset:+d} seconds")
            for line in lines
            for since, until, offset in offset_spans(line.zone, start, end)
        ]
        # The table needs a row; line 0 does not exist, so this one joins nothing.
        rows = rows or [(0, start, end, 0, "+0 seconds")]
        # A UNION ALL of one-row SELECTs rather than VALUES: SQLite cannot name the columns
        # of a VALUES list in FROM.
        self.table: Subquery = union_all(
            *(
                select(
                    literal(line_id, Integer).label("line_id"),
                    literal(since, UtcDateTime()).label("since"),
                    literal(until, UtcDateTime()).label("until"),
                    literal(offset, Integer).label("offset_s"),
                    literal(shift, String).label("shift"),
                )
                for line_id, since, until, offset, shift in rows
            )
        ).subquery("line_clock")

    def join_on(self) -> ColumnElement[bool]:
        """How a dialog meets its line's span."""
        spans = self.table.c
        return and_(
            spans.line_id == Dialog.line_id,
            Dialog.opened_at >= spans.since,
            Dialog.opened_at < spans.until,
        )

    def _local(self) -> ColumnElement[Any]:
        one_second: ColumnElement[Any] = literal_column("interval '1 second'")
        return func.timezone("UTC", Dialog.opened_at) + self.table.c.offset_s * one_second

    def _sqlite_instant(self) -> ColumnElement[str]:
        # SQLite rounds a fraction of a second to milliseconds when it parses: 23:59:59.9996
        # would become the next day. Whole seconds are all a day, weekday or hour needs.
        return func.substr(Dialog.opened_at, 1, 19)

    def day(self) -> ColumnElement[str]:
        """The local date as ``YYYY-MM-DD``."""
        if self.dialect == "postgresql":
            return func.to_char(self._local(), "YYYY-MM-DD")
        return func.date(self._sqlite_instant(), self.table.c.shift)

    def weekday(self) -> ColumnElement[int]:
        """The local weekday, 0 for Monday."""
        if self.dialect == "postgresql":
            return cast(func.extract("isodow", self._local()), Integer) - 1
        sunday_first = cast(
            func.strftime("%w", self._sqlite_instant(), self.table.c.shift), Integer
        )
        return (sunday_first + 6) % 7

    def hour(self) -> ColumnElement[int]:
        """The local hour, 0..23."""
        if self.dialect == "postgresql":
            return cast(func.extract("hour", self._local()), Integer)
        return cast(func.strftime("%H", self._sqlite_instant(), self.table.c.shift), Integer)
