"""The aggregates of the selected dialogs: in total, by whether they began in working hours,
and per line, channel or operator.

Figures of a set of dialogs:

* ``dialogs``; ``missed``: those whose outcome is ``missed`` (nobody answered);
* ``frt_p50_s``, ``frt_p90_s``: first response time percentiles by nearest rank (see
  ``percentiles``) over the dialogs that had a first response; with ``business_time`` only the
  line's working seconds between the start and the first response count;
* ``duration_avg_s``: mean seconds from start to close over closed dialogs (one decimal);
* ``messages_per_dialog``: mean client plus operator messages (two decimals);
* ``rating_avg`` (two decimals), ``rating_counts`` per star, and ``csat_pct``: the share of
  ratings that are 4 or 5, in percent (one decimal).

A figure with nothing to count is null.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from config.schedule import working_seconds
from core.db.schema import Channel, Dialog, Line, Operator
from operator_console.stats.dialogs import Selection, duration_s, first_response_s
from operator_console.stats.filters import SummaryQuery
from operator_console.stats.percentiles import PERCENTS, nearest_rank, percentiles

STARS = ("1", "2", "3", "4", "5")

Key = ColumnElement[Any] | InstrumentedAttribute[Any]


def empty_figures() -> dict[str, Any]:
    """The figures of no dialogs."""
    return {
        "dialogs": 0,
        "missed": 0,
        "frt_p50_s": None,
        "frt_p90_s": None,
        "duration_avg_s": None,
        "messages_per_dialog": None,
        "rating_avg": None,
        "rating_counts": dict.fromkeys(STARS, 0),
        "csat_pct": None,
    }


def _rounded(value: Any, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def figures_by(
    session: AsyncSession,
    selection: Selection,
    key: Key,
    business_frt: dict[Hashable, list[int | None]] | None = None,
) -> dict[Hashable, dict[str, Any]]:
    """The figures of the selected dialogs per value of ``key``: two queries, or one when
    the first response percentiles come in ``business_frt`` (see ``business_frt``)."""
    dialect = selection.dialect
    stmt = select(
        key,
        func.count(),
        _count(Dialog.outcome == "missed"),
        func.avg(duration_s(dialect)),
        func.avg(Dialog.client_messages + Dialog.operator_messages),
        func.avg(Dialog.rating),
        func.count(Dialog.rating),
        _count(Dialog.rating >= 4),
        *(_count(Dialog.rating == int(star)) for star in STARS),
    ).select_from(Dialog)
    stmt = (await selection.apply(session, stmt)).group_by(key)
    out: dict[Hashable, dict[str, Any]] = {}
    for row in await session.execute(stmt):
        rated = int(row[6])
        out[row[0]] = {
            **empty_figures(),
            "dialogs": int(row[1]),
            "missed": int(row[2]),
            "duration_avg_s": _rounded(row[3], 1),
            "messages_per_dialog": _rounded(row[4], 2),
            "rating_avg": _rounded(row[5], 2),
            "rating_counts": {star: int(n) for star, n in zip(STARS, row[8:], strict=True)},
            "csat_pct": round(100 * int(row[7]) / rated, 1) if rated else None,
        }
    if business_frt is not None:
        frt = business_frt
    else:
        answered = select(key, first_response_s(dialect)).select_from(Dialog)
        answered = await selection.apply(session, answered)
        frt = await percentiles(session, answered.where(Dialog.first_response_at.is_not(None)))
    for group, (p50, p90) in frt.items():
        if group in out:
            out[group]["frt_p50_s"], out[group]["frt_p90_s"] = p50, p90
    return out


async def business_frt(
    session: AsyncSession, selection: Selection, keys: list[Key]
) -> list[dict[Hashable, list[int | None]]]:
    """First response percentiles in working seconds, per value of each of ``keys``,
    computed here in one pass: SQL cannot walk a line's schedule. Only the dialogs with a
    first response are read, and each one's working seconds are counted once."""
    stmt = select(*keys, Dialog.line_id, Dialog.opened_at, Dialog.first_response_at)
    stmt = await selection.apply(session, stmt.select_from(Dialog))
    stmt = stmt.where(Dialog.first_response_at.is_not(None))
    values: list[dict[Hashable, list[int]]] = [{} for _ in keys]
    async for row in await session.stream(stmt):
        line_id, opened, answered = row[-3:]
        clock = selection.lines.get(line_id)
        if clock is None or clock.schedule is None:
            seconds = (answered - opened).total_seconds()
        else:
            seconds = working_seconds(clock.schedule, opened, answered)
        for per_key, group in zip(values, row[: len(keys)], strict=True):
            per_key.setdefault(group, []).append(int(seconds // 1))
    return [
        {group: [nearest_rank(sorted(found), p) for p in PERCENTS] for group, found in v.items()}
        for v in values
    ]


async def summary(
    session: AsyncSession, selection: Selection, query: SummaryQuery
) -> dict[str, Any]:
    """``{"total", "in_hours", "out_of_hours", "groups"}`` as the API shows it."""
    column, labels = _grouping(query)
    keys: list[Key] = [literal(0, Integer), Dialog.began_in_hours, column]
    frt: list[dict[Hashable, list[int | None]] | None] = [None, None, None]
    if query.business_time:
        frt = list(await business_frt(session, selection, keys))
    total = await figures_by(session, selection, keys[0], frt[0])
    hours = await figures_by(session, selection, keys[1], frt[1])
    groups = await figures_by(session, selection, keys[2], frt[2])
    names = await _labels(session, labels, [k for k in groups if k is not None])
    return {
        "total": total.get(0, empty_figures()),
        "in_hours": hours.get(True, empty_figures()),
        "out_of_hours": hours.get(False, empty_figures()),
        "groups": [
            {"key": key, "label": names.get(key, "") if key is not None else "", **figures}
            for key, figures in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ],
    }


def _grouping(query: SummaryQuery) -> tuple[Key, Any]:
    if query.group_by == "channel":
        return Dialog.channel_id, Channel
    if query.group_by == "operator":
        return Dialog.operator_id, Operator
    return Dialog.line_id, Line


async def _labels(session: AsyncSession, table: Any, keys: list[Any]) -> dict[Any, str]:
    """The names of the lines, channels or operators with these ids."""
    rows = await session.execute(select(table.id, table.name).where(table.id.in_(keys)))
    return {row_id: name for row_id, name in rows}
