"""Statistics read from the daily rollup (``core.db.rollup_schema``) instead of the dialogs.

The rollup's keys are whole local days of each line, the line, channel, responsible operator
and whether the dialog began in working hours, so it answers every request whose filters and
scope name only those; a filter on anything else (status, outcome, rating, weekday, hour,
missed) is answered from the dialogs (``rollup_where`` is then None). Its figures are those
the dialogs' stored figures add up to, so both ways give the same answer.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.rollup import DAYS as DAYS
from core.db.rollup import MONTHS as MONTHS
from core.db.rollup import RESPONSES as RESPONSES
from core.db.rollup_schema import HOURS, NOBODY, STARS, UNKNOWN_HOURS
from operator_console.stats.dialogs import Selection
from operator_console.stats.percentiles import ValueCounts

SUM_COLUMNS = (
    "dialogs",
    "missed",
    "duration_sum",
    "closed",
    "messages",
    "rating_sum",
    "rated",
    "good",
    *STARS,
)
"""In the order ``summary.SUMS`` then the stars."""

GROUP_COLUMNS = {"line": "line_id", "channel": "channel_id", "operator": "operator_id"}


def rollup_where(selection: Selection, table: Any = DAYS) -> ColumnElement[bool] | None:
    """The selection as a condition on the rollup ``table``; None when the rollup cannot
    answer it."""
    f = selection.filters
    beyond = (f.status, f.outcome, f.rating_min, f.rating_max, f.weekday, f.hour, f.missed)
    if any(value is not None for value in beyond):
        return None
    first, last = f.days()
    if not selection.lines or (first is not None and last is not None and last < first):
        return false()
    t = table.c
    where: list[ColumnElement[bool]] = [t.line_id.in_(sorted(selection.lines))]
    if first is not None:
        where.append(t.day >= first.isoformat())
    if last is not None:
        where.append(t.day <= last.isoformat())
    if f.channel_id is not None:
        where.append(t.channel_id == f.channel_id)
    if f.operator_id is not None:
        where.append(t.operator_id == f.operator_id)
    if f.in_hours is not None:
        where.append(t.in_hours == int(f.in_hours))
    scope = selection.scope
    if scope.own_dialogs and scope.operator_ids is not None:
        where.append(t.operator_id.in_(sorted(scope.operator_ids)))
    return and_(*where)


def _in_hours(value: int) -> bool | None:
    return None if value == UNKNOWN_HOURS else bool(value)


def _group(group_by: str, value: int) -> int | None:
    return None if group_by == "operator" and value == NOBODY else value


async def group_sums(
    session: AsyncSession, where: ColumnElement[bool], group_by: str
) -> dict[tuple[Any, Any], list[int]]:
    """The sums of ``SUM_COLUMNS`` per (began in hours, group)."""
    t = DAYS.c
    key = t[GROUP_COLUMNS[group_by]]
    stmt = (
        select(t.in_hours, key, *(func.sum(t[name]) for name in SUM_COLUMNS))
        .where(where)
        .group_by(t.in_hours, key)
    )
    return {
        (_in_hours(row[0]), _group(group_by, row[1])): [int(v or 0) for v in row[2:]]
        for row in await session.execute(stmt)
    }


async def frt_counts(
    session: AsyncSession, selection: Selection, group_by: str, business_time: bool
) -> dict[tuple[Any, Any], ValueCounts]:
    """First response counts per (began in hours, group), in working or in all seconds, of a
    selection ``rollup_where`` accepts: the whole months of its range from the monthly
    counts when a grain of them keeps the filters and the grouping, the rest from the daily
    counts."""
    grain = month_grain(selection, group_by)
    months = whole_months(*selection.filters.days()) if grain else None
    days = rollup_where(selection, RESPONSES)
    assert days is not None
    out: dict[tuple[Any, Any], ValueCounts] = {}
    if grain is None or months is None:
        return await _counted(session, _day_counts(days, group_by, business_time), group_by, out)
    start, end = months
    await _counted(
        session, _month_counts(selection, grain, months, group_by, business_time), group_by, out
    )
    t = RESPONSES.c
    covered = [t.day >= f"{start}-01"] if start else []
    covered += [t.day < f"{_next_month(end)}-01"] if end else []
    first, last = selection.filters.days()
    if (first is not None and first.day != 1) or (last is not None and last != _month_end(last)):
        ends = _day_counts(and_(days, not_(and_(*covered))), group_by, business_time)
        await _counted(session, ends, group_by, out)
    return out


def month_grain(selection: Selection, group_by: str) -> str | None:
    """The grain of the monthly counts that answers this selection grouped by ``group_by``:
    ``channel`` unless an operator is named, else ``operator`` unless a channel is."""
    f, scope = selection.filters, selection.scope
    own = scope.own_dialogs and scope.operator_ids is not None
    if f.operator_id is None and not own and group_by in ("line", "channel"):
        return "channel"
    if f.channel_id is None and group_by in ("line", "operator"):
        return "operator"
    return None


def whole_months(first: date | None, last: date | None) -> tuple[str | None, str | None] | None:
    """The first and last whole month (``YYYY-MM``, None: unbounded) within ``first``..``last``;
    None when the range holds no whole month."""
    start = None if first is None else first if first.day == 1 else _month_end(first) + ONE_DAY
    end = (
        None
        if last is None
        else last
        if last == _month_end(last)
        else last.replace(day=1) - ONE_DAY
    )
    if start is not None and end is not None and start > end:
        return None
    return (
        None if start is None else start.isoformat()[:7],
        None if end is None else end.isoformat()[:7],
    )


ONE_DAY = timedelta(days=1)


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - ONE_DAY


def _next_month(month: str) -> str:
    return (_month_end(date.fromisoformat(f"{month}-01")) + ONE_DAY).isoformat()[:7]


def _day_counts(where: ColumnElement[bool], group_by: str, business_time: bool) -> Any:
    t = RESPONSES.c
    key = t[GROUP_COLUMNS[group_by]]
    return (
        select(t.in_hours, key, t.seconds, func.sum(t.dialogs))
        .where(where, t.business.is_(business_time))
        .group_by(t.in_hours, key, t.seconds)
    )


def _month_counts(
    selection: Selection,
    grain: str,
    months: tuple[str | None, str | None],
    group_by: str,
    business_time: bool,
) -> Any:
    t, f, scope = MONTHS.c, selection.filters, selection.scope
    where = [
        t.business.is_(business_time),
        t.grain == grain,
        t.line_id.in_(sorted(selection.lines)),
    ]
    if months[0] is not None:
        where.append(t.month >= months[0])
    if months[1] is not None:
        where.append(t.month <= months[1])
    if f.in_hours is not None:
        where.append(t.in_hours == int(f.in_hours))
    if grain == "channel" and f.channel_id is not None:
        where.append(t.part_id == f.channel_id)
    if grain == "operator" and f.operator_id is not None:
        where.append(t.part_id == f.operator_id)
    if grain == "operator" and scope.own_dialogs and scope.operator_ids is not None:
        where.append(t.part_id.in_(sorted(scope.operator_ids)))
    key = t.line_id if group_by == "line" else t.part_id
    return (
        select(t.in_hours, key, t.seconds, func.sum(t.dialogs))
        .where(*where)
        .group_by(t.in_hours, key, t.seconds)
    )


async def _counted(
    session: AsyncSession, stmt: Any, group_by: str, out: dict[tuple[Any, Any], ValueCounts]
) -> dict[tuple[Any, Any], ValueCounts]:
    """Add the (in hours, group, seconds, dialogs) rows of ``stmt`` to ``out``."""
    for in_hours, group, seconds, count in await session.execute(stmt):
        if count:
            found = out.setdefault((_in_hours(in_hours), _group(group_by, group)), {})
            found[int(seconds)] = found.get(int(seconds), 0) + int(count)
    return out


async def daily_counts(
    session: AsyncSession, where: ColumnElement[bool]
) -> list[tuple[str, int, int]]:
    """(day, channel id, dialogs) rows."""
    t = DAYS.c
    stmt = select(t.day, t.channel_id, func.sum(t.dialogs)).where(where)
    rows = await session.execute(stmt.group_by(t.day, t.channel_id))
    return [(day, channel, int(count)) for day, channel, count in rows]


async def daily_frt_counts(
    session: AsyncSession, where: ColumnElement[bool]
) -> dict[str, ValueCounts]:
    """First response counts (all seconds) per day; ``where`` on the responses table."""
    t = RESPONSES.c
    stmt = select(t.day, t.seconds, func.sum(t.dialogs)).where(where, t.business.is_(False))
    out: dict[str, ValueCounts] = {}
    for day, seconds, count in await session.execute(stmt.group_by(t.day, t.seconds)):
        if count:
            out.setdefault(day, {})[int(seconds)] = int(count)
    return out


async def heatmap_cells(session: AsyncSession, where: ColumnElement[bool]) -> list[list[int]]:
    """Dialogs per local weekday (Monday first) and hour."""
    t = DAYS.c
    stmt = select(t.weekday, *(func.sum(t[hour]) for hour in HOURS)).where(where)
    cells = [[0] * 24 for _ in range(7)]
    for weekday, *hours in await session.execute(stmt.group_by(t.weekday)):
        cells[weekday] = [int(n or 0) for n in hours]
    return cells
