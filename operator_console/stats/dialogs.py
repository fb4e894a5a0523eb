"""Which dialogs a statistics request is about: the filters and the caller's scope as one SQL
condition on ``Dialog``, plus the per-dialog figures computed in SQL the same on SQLite and
PostgreSQL."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, Select, and_, cast, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from config.lines import LineSettings
from core.db.schema import Dialog, Line
from operator_console.stats.clock import LineClock, LocalClock
from operator_console.stats.filters import StatsFilters
from operator_console.stats.scope import StatsScope

log = logging.getLogger(__name__)

AnySelect = Select[*tuple[Any, ...]]
S = TypeVar("S", bound=AnySelect)


def seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[int]:
    """Whole seconds from ``earlier`` to ``later`` (rounded down), exact to the microsecond
    on both databases; null when either is null."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", later - earlier)), Integer)
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff': whole epoch seconds, minus one when the
    # later microseconds are fewer (string order is numeric order for six fixed digits).
    # SQLite rounds fractions to milliseconds when it parses, so they are cut off first.
    whole = cast(func.strftime("%s", func.substr(later, 1, 19)), Integer) - cast(
        func.strftime("%s", func.substr(earlier, 1, 19)), Integer
    )
    borrow = cast(func.substr(later, 21) < func.substr(earlier, 21), Integer)
    return whole - borrow


def first_response_s(dialect: str) -> ColumnElement[int]:
    """Seconds from the dialog's start to the first operator answer (null: none yet)."""
    return seconds_between(dialect, Dialog.first_response_at, Dialog.opened_at)


def duration_s(dialect: str) -> ColumnElement[int]:
    """Seconds from the dialog's start to its close (null while it is not closed)."""
    return seconds_between(dialect, Dialog.closed_at, Dialog.opened_at)


def line_clock(line: Line) -> LineClock:
    """A line's name, zone and working hours; a zone or schedule this version cannot read
    counts as UTC and always open, as the router treats it."""
    try:
        zone = ZoneInfo(line.timezone)
    except (ValueError, OSError):
        log.warning(
            "line %d has an unknown time zone %r; counting it as UTC", line.id, line.timezone
        )
        zone = ZoneInfo("UTC")
    try:
        schedule = LineSettings.model_validate(line.settings or {}).build_schedule(str(zone.key))
    except ValueError:
        schedule = None
    return LineClock(line.id, line.name, zone, schedule)


@dataclass(frozen=True)
class Selection:
    """The dialogs of one request: the condition, the lines they may be on, and the dialect."""

    where: ColumnElement[bool]
    lines: dict[int, LineClock]
    dialect: str
    filters: StatsFilters

    async def clock(self, session: AsyncSession) -> LocalClock:
        """Local time of these lines over the dialogs on record, narrowed to the dates in
        question: a far-off ``to`` with no dialogs near it costs nothing."""
        bounds = select(func.min(Dialog.opened_at), func.max(Dialog.opened_at))
        low, high = (await session.execute(bounds)).one()
        now = datetime.now(UTC)
        low, high = low or now, high or now
        first, last = self.filters.days()
        clocks = list(self.lines.values())
        if first is not None and clocks:
            low = max(low, min(c.midnight(first) for c in clocks))
        if last is not None and clocks:
            high = min(high, max(c.midnight(last + timedelta(days=1)) for c in clocks))
        # Dates past every dialog select none; the table still needs a span to be valid.
        high = max(low, high)
        return LocalClock(self.dialect, clocks, low - timedelta(days=1), high + timedelta(days=1))

    async def apply(self, session: AsyncSession, stmt: S, clock: LocalClock | None = None) -> S:
        """``stmt`` (whose first FROM is ``Dialog``) limited to these dialogs; joined to the
        lines' local time when ``clock`` is given or a weekday or hour is asked for."""
        f = self.filters
        if clock is None and (f.weekday is not None or f.hour is not None):
            clock = await self.clock(session)
        if clock is not None:
            stmt = stmt.join_from(Dialog, clock.table, clock.join_on())
            if f.weekday is not None:
                stmt = stmt.where(clock.weekday() == f.weekday)
            if f.hour is not None:
                stmt = stmt.where(clock.hour() == f.hour)
        return stmt.where(self.where)


async def select_dialogs(
    session: AsyncSession, filters: StatsFilters, scope: StatsScope
) -> Selection:
    """The condition on ``Dialog`` for ``filters`` within ``scope`` (one query, for lines)."""
    dialect = session.get_bind().dialect.name
    lines = {
        line.id: line_clock(line)
        for line in await session.scalars(select(Line).order_by(Line.id))
        if scope.may_read_line(line.id) and (filters.line_id is None or line.id == filters.line_id)
    }
    where: list[ColumnElement[bool]] = [scope.dialogs(), _dates(filters, lines)]
    where.extend(_plain_filters(filters))
    return Selection(and_(true(), *where), lines, dialect, filters)


def _plain_filters(f: StatsFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.line_id is not None:
        where.append(Dialog.line_id == f.line_id)
    if f.channel_id is not None:
        where.append(Dialog.channel_id == f.channel_id)
    if f.operator_id is not None:
        where.append(Dialog.operator_id == f.operator_id)
    if f.status is not None:
        where.append(Dialog.status == f.status)
    if f.in_hours is not None:
        where.append(Dialog.began_in_hours.is_(f.in_hours))
    if f.outcome is not None:
        where.append(Dialog.outcome == f.outcome)
    if f.missed is not None:
        missed = Dialog.outcome == "missed"
        where.append(missed if f.missed else or_(Dialog.outcome.is_(None), ~missed))
    if f.rating_min is not None:
        where.append(Dialog.rating >= f.rating_min)
    if f.rating_max is not None:
        where.append(Dialog.rating <= f.rating_max)
    return where


def _dates(f: StatsFilters, lines: dict[int, LineClock]) -> ColumnElement[bool]:
    """Lines in scope and, when dates are asked for, each line's local dates in UTC."""
    if not lines:
        return false()
    first, last = f.days()
    if first is not None and last is not None and last < first:
        return false()
    if first is None and last is None:
        return Dialog.line_id.in_(sorted(lines))
    per_line = []
    for clock in lines.values():
        on_line: list[ColumnElement[bool]] = [Dialog.line_id == clock.line_id]
        if first is not None:
            on_line.append(Dialog.opened_at >= clock.midnight(first))
        if last is not None:
            on_line.append(Dialog.opened_at < clock.midnight(last + timedelta(days=1)))
        per_line.append(and_(*on_line))
    return or_(*per_line)
