"""The statistics computed the plain way, in Python, over dialogs held in memory: what the
SQL of operator_console/stats must agree with."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from config.schedule import Schedule, working_seconds


@dataclass(frozen=True)
class PlainDialog:
    """What the statistics read of a dialog."""

    line_id: int
    channel_id: int
    channel_kind: str
    operator_id: int | None
    status: str
    opened_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None
    began_in_hours: bool | None
    outcome: str | None
    rating: int | None
    client_messages: int
    operator_messages: int


@dataclass(frozen=True)
class PlainLine:
    zone: ZoneInfo
    schedule: Schedule | None


def whole_seconds(later: datetime, earlier: datetime) -> int:
    return (later - earlier) // timedelta(seconds=1)


def percentile(values: Iterable[int], percent: int) -> int | None:
    """Nearest rank: the value at rank ceil(p/100 * n)."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[math.ceil(percent * len(ordered) / 100) - 1]


def local(d: PlainDialog, lines: dict[int, PlainLine]) -> datetime:
    return d.opened_at.astimezone(lines[d.line_id].zone)


def selected(
    dialogs: Iterable[PlainDialog],
    lines: dict[int, PlainLine],
    first: date | None = None,
    last: date | None = None,
    line_id: int | None = None,
) -> list[PlainDialog]:
    out = []
    for d in dialogs:
        day = local(d, lines).date()
        if line_id is not None and d.line_id != line_id:
            continue
        if (first and day < first) or (last and day > last):
            continue
        out.append(d)
    return out


def frt(d: PlainDialog, lines: dict[int, PlainLine], business: bool) -> int | None:
    if d.first_response_at is None:
        return None
    schedule = lines[d.line_id].schedule
    if business and schedule is not None:
        return int(working_seconds(schedule, d.opened_at, d.first_response_at) // 1)
    return whole_seconds(d.first_response_at, d.opened_at)


def _mean(values: list[int], digits: int) -> float | None:
    return round(sum(values) / len(values), digits) if values else None


def figures(
    group: list[PlainDialog], lines: dict[int, PlainLine], business: bool
) -> dict[str, Any]:
    responses = [s for d in group if (s := frt(d, lines, business)) is not None]
    durations = [whole_seconds(d.closed_at, d.opened_at) for d in group if d.closed_at]
    ratings = [d.rating for d in group if d.rating is not None]
    return {
        "dialogs": len(group),
        "missed": sum(d.outcome == "missed" for d in group),
        "frt_p50_s": percentile(responses, 50),
        "frt_p90_s": percentile(responses, 90),
        "duration_avg_s": _mean(durations, 1),
        "messages_per_dialog": _mean([d.client_messages + d.operator_messages for d in group], 2),
        "rating_avg": _mean(ratings, 2),
        "rating_counts": {str(star): ratings.count(star) for star in range(1, 6)},
        "csat_pct": round(100 * sum(r >= 4 for r in ratings) / len(ratings), 1)
        if ratings
        else None,
    }


def by(
    dialogs: Iterable[PlainDialog], key: Callable[[PlainDialog], Hashable]
) -> dict[Hashable, list[PlainDialog]]:
    groups: dict[Hashable, list[PlainDialog]] = defaultdict(list)
    for d in dialogs:
        groups[key(d)].append(d)
    return groups


def summary(
    dialogs: list[PlainDialog], lines: dict[int, PlainLine], group_by: str, business: bool
) -> dict[str, Any]:
    key = {
        "line": lambda d: d.line_id,
        "channel": lambda d: d.channel_id,
        "operator": lambda d: d.operator_id,
    }[group_by]
    return {
        "total": figures(dialogs, lines, business),
        "in_hours": figures([d for d in dialogs if d.began_in_hours is True], lines, business),
        "out_of_hours": figures([d for d in dialogs if d.began_in_hours is False], lines, business),
        "groups": {k: figures(g, lines, business) for k, g in by(dialogs, key).items()},
    }


def daily(
    dialogs: list[PlainDialog], lines: dict[int, PlainLine], first: date | None, last: date | None
) -> dict[str, Any]:
    days_of = {id(d): local(d, lines).date() for d in dialogs}
    if first is None or last is None:
        if not dialogs:
            return {"days": [], "by_channel": {}, "frt_p50_s": [], "frt_p90_s": []}
        first = first or min(days_of.values())
        last = last or max(days_of.values())
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    kinds = sorted({d.channel_kind for d in dialogs})
    per_day = by(dialogs, lambda d: days_of[id(d)])

    def day_frt(day: date, p: int) -> int | None:
        return percentile(
            [s for d in per_day.get(day, []) if (s := frt(d, lines, False)) is not None], p
        )

    return {
        "days": [day.isoformat() for day in days],
        "by_channel": {
            k: [sum(d.channel_kind == k for d in per_day.get(day, [])) for day in days]
            for k in kinds
        },
        "frt_p50_s": [day_frt(day, 50) for day in days],
        "frt_p90_s": [day_frt(day, 90) for day in days],
    }


def heatmap(dialogs: list[PlainDialog], lines: dict[int, PlainLine]) -> list[list[int]]:
    cells = [[0] * 24 for _ in range(7)]
    for d in dialogs:
        at = local(d, lines)
        cells[at.weekday()][at.hour] += 1
    return cells
