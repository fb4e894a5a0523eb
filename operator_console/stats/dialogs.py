"""Which dialogs a statistics request is about: the filters and the caller's scope as one SQL
condition on ``Dialog``, plus the per-dialog figures the router stores on each dialog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.schema import Dialog, Line
from core.dialog_figures import line_schedule, line_zone
from operator_console.stats.clock import LineClock
from operator_console.stats.filters import StatsFilters
from operator_console.stats.scope import StatsScope

AnySelect = Select[*tuple[Any, ...]]
S = TypeVar("S", bound=AnySelect)


def line_clock(line: Line) -> LineClock:
    """A line's name, zone and working hours; a zone or schedule this version cannot read
    counts as UTC and always open, as the router treats it."""
    zone = line_zone(line.id, line.timezone)
    return LineClock(line.id, line.name, zone, line_schedule(line.settings, zone))


@dataclass(frozen=True)
class Selection:
    """The dialogs of one request: the condition, the lines they may be on, the dialect, and
    the filters and scope the condition was made of."""

    where: ColumnElement[bool]
    lines: dict[int, LineClock]
    dialect: str
    filters: StatsFilters
    scope: StatsScope

    async def apply(self, session: AsyncSession, stmt: S) -> S:
        """``stmt`` (whose first FROM is ``Dialog``) limited to these dialogs."""
        f = self.filters
        if f.weekday is not None:
            stmt = stmt.where(Dialog.opened_weekday == f.weekday)
        if f.hour is not None:
            stmt = stmt.where(Dialog.opened_hour == f.hour)
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
    every_line = scope.line_ids is None and filters.line_id is None
    where: list[ColumnElement[bool]] = [scope.dialogs(), _dates(filters, lines, every_line)]
    where.extend(_plain_filters(filters))
    return Selection(and_(true(), *where), lines, dialect, filters, scope)


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


def _dates(f: StatsFilters, lines: dict[int, LineClock], every_line: bool) -> ColumnElement[bool]:
    """Lines in scope and, when dates are asked for, each line's local dates in UTC."""
    if not lines:
        return false()
    first, last = f.days()
    if first is not None and last is not None and last < first:
        return false()
    if first is None and last is None:
        # Every dialog has a line, so a scope of every line needs no condition; an IN of all
        # of them would only lead SQLite (which has no statistics unless someone ran ANALYZE)
        # to walk a line index and sort a million dialogs for one page.
        return true() if every_line else Dialog.line_id.in_(sorted(lines))
    per_line, span = [], []
    for clock in lines.values():
        on_line: list[ColumnElement[bool]] = [Dialog.line_id == clock.line_id]
        if first is not None:
            on_line.append(Dialog.opened_at >= clock.midnight(first))
        if last is not None:
            on_line.append(Dialog.opened_at < clock.midnight(last + timedelta(days=1)))
        per_line.append(and_(*on_line))
    # The span from the earliest line's first midnight to the latest one's last, which the
    # per-line ranges imply: with it SQLite walks the start index in the page's order and
    # stops at the page's end, instead of gathering each line's range and sorting it all.
    if first is not None:
        span.append(Dialog.opened_at >= min(c.midnight(first) for c in lines.values()))
    if last is not None:
        end = last + timedelta(days=1)
        span.append(Dialog.opened_at < max(c.midnight(end) for c in lines.values()))
    return and_(*span, or_(*per_line))
