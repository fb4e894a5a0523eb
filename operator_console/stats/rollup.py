"""Statistics read from the daily rollup (``core.db.rollup_schema``) instead of the dialogs.

The rollup's keys are whole local days of each line, the line, channel, responsible operator
and whether the dialog began in working hours, so it answers every request whose filters and
scope name only those; a filter on anything else (status, outcome, rating, weekday, hour,
missed) is answered from the dialogs (``rollup_where`` is then None). Its figures are those
the dialogs' stored figures add up to, so both ways give the same answer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.rollup import DAYS as DAYS
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
    session: AsyncSession, where: ColumnElement[bool], group_by: str, business_time: bool
) -> dict[tuple[Any, Any], ValueCounts]:
    """First response counts per (began in hours, group), in working or in all seconds;
    ``where`` is ``rollup_where`` of the responses table."""
    t = RESPONSES.c
    key = t[GROUP_COLUMNS[group_by]]
    stmt = (
        select(t.in_hours, key, t.seconds, func.sum(t.dialogs))
        .where(where, t.business.is_(business_time))
        .group_by(t.in_hours, key, t.seconds)
    )
    out: dict[tuple[Any, Any], ValueCounts] = {}
    for in_hours, group, seconds, count in await session.execute(stmt):
        if count:
            found = out.setdefault((_in_hours(in_hours), _group(group_by, group)), {})
            found[int(seconds)] = int(count)
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
