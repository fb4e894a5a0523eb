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

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.db.schema import Channel, Dialog, Line, Operator
from operator_console.stats import rollup
from operator_console.stats.dialogs import Selection
from operator_console.stats.filters import SummaryQuery
from operator_console.stats.percentiles import ValueCounts, merge_counts, ranked, value_counts

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


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


SUMS = ("dialogs", "missed", "duration_sum", "closed", "messages", "rating_sum", "rated", "good")


def _sums(row: Any) -> dict[str, Any]:
    """The additive counts of one group's row, which groups add up to their union's."""
    out: dict[str, Any] = {name: int(value or 0) for name, value in zip(SUMS, row, strict=False)}
    out["stars"] = [int(n) for n in row[len(SUMS) :]]
    return out


def _add(into: dict[str, Any], sums: dict[str, Any]) -> None:
    for name in SUMS:
        into[name] = into.get(name, 0) + sums[name]
    into["stars"] = [a + b for a, b in zip(into.get("stars", [0] * 5), sums["stars"], strict=True)]


def _figures(sums: dict[str, Any], counts: ValueCounts) -> dict[str, Any]:
    """The figures of a set of dialogs from its sums and its first response counts."""
    closed, rated = sums["closed"], sums["rated"]
    p50, p90 = ranked(counts)
    return {
        **empty_figures(),
        "dialogs": sums["dialogs"],
        "missed": sums["missed"],
        "frt_p50_s": p50,
        "frt_p90_s": p90,
        "duration_avg_s": round(sums["duration_sum"] / closed, 1) if closed else None,
        "messages_per_dialog": round(sums["messages"] / sums["dialogs"], 2),
        "rating_avg": round(sums["rating_sum"] / rated, 2) if rated else None,
        "rating_counts": dict(zip(STARS, sums["stars"], strict=True)),
        "csat_pct": round(100 * sums["good"] / rated, 1) if rated else None,
    }


async def _group_sums(
    session: AsyncSession, selection: Selection, key: Key
) -> dict[tuple[Any, Any], dict[str, Any]]:
    """The sums of the selected dialogs per (began in hours, ``key``): one query."""
    stmt = select(
        Dialog.began_in_hours,
        key,
        func.count(),
        _count(Dialog.outcome == "missed"),
        func.sum(Dialog.duration_s),
        func.count(Dialog.duration_s),
        func.sum(Dialog.client_messages + Dialog.operator_messages),
        func.sum(Dialog.rating),
        func.count(Dialog.rating),
        _count(Dialog.rating >= 4),
        *(_count(Dialog.rating == int(star)) for star in STARS),
    ).select_from(Dialog)
    stmt = (await selection.apply(session, stmt)).group_by(Dialog.began_in_hours, key)
    return {(row[0], row[1]): _sums(row[2:]) for row in await session.execute(stmt)}


async def _frt_counts(
    session: AsyncSession, selection: Selection, key: Key, business_time: bool
) -> dict[tuple[Any, Any], ValueCounts]:
    """First response counts per (began in hours, ``key``), in working or in all seconds."""
    frt = Dialog.business_frt_s if business_time else Dialog.first_response_s
    stmt = select(Dialog.began_in_hours, key, frt).select_from(Dialog)
    stmt = (await selection.apply(session, stmt)).where(frt.is_not(None))
    return await value_counts(session, stmt)


async def summary(
    session: AsyncSession, selection: Selection, query: SummaryQuery
) -> dict[str, Any]:
    """``{"total", "in_hours", "out_of_hours", "groups"}`` as the API shows it: the database
    (the daily rollup when it can answer, else the dialogs) is read twice, per (began in
    hours, group); the total and the working-hours split are added up here."""
    column, labels = _grouping(query)
    days = rollup.rollup_where(selection)
    if days is not None:
        rolled = await rollup.group_sums(session, days, query.group_by)
        sums = {key: _sums(row) for key, row in rolled.items()}
        counts = await rollup.frt_counts(session, selection, query.group_by, query.business_time)
    else:
        sums = await _group_sums(session, selection, column)
        counts = await _frt_counts(session, selection, column, query.business_time)
    merged: dict[str, dict[Hashable, tuple[dict[str, Any], ValueCounts]]] = {
        "total": {},
        "hours": {},
        "groups": {},
    }
    for (in_hours, group), group_sums in sums.items():
        found = counts.get((in_hours, group), {})
        for view, key in (("total", 0), ("hours", in_hours), ("groups", group)):
            into_sums, into_counts = merged[view].setdefault(key, ({}, {}))
            _add(into_sums, group_sums)
            merge_counts(into_counts, found)
    figures = {
        view: {key: _figures(*pair) for key, pair in per_key.items()}
        for view, per_key in merged.items()
    }
    groups = figures["groups"]
    names = await _labels(session, labels, [k for k in groups if k is not None])
    return {
        "total": figures["total"].get(0, empty_figures()),
        "in_hours": figures["hours"].get(True, empty_figures()),
        "out_of_hours": figures["hours"].get(False, empty_figures()),
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
