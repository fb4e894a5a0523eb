"""Calendar periods of KPI plans and the rating, as instants in a time zone.

A week runs Monday 00:00 to the next Monday 00:00, a month from its first day to the next
month's, both in the operator's time zone (see ``facts.operator_zones``). Boundaries are
computed with ``zoneinfo`` here, so a week that crosses a DST change is 167 or 169 hours long
and the database only compares UTC instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PeriodKind = Literal["week", "month"]
PERIOD_KINDS: tuple[PeriodKind, ...] = get_args(PeriodKind)


@dataclass(frozen=True)
class Period:
    """The calendar days ``first``..``last`` (inclusive) of a week or month."""

    kind: PeriodKind
    first: date
    last: date

    def bounds(self, zone: str) -> tuple[datetime, datetime]:
        """``[start, end)`` of the period in ``zone``, as UTC instants."""
        tz = time_zone(zone)
        start = datetime.combine(self.first, time(), tzinfo=tz)
        end = datetime.combine(self.last + timedelta(days=1), time(), tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    def json(self) -> dict[str, str]:
        """The period as the API shows it."""
        return {"kind": self.kind, "first": self.first.isoformat(), "last": self.last.isoformat()}


def period_of(kind: PeriodKind, day: date) -> Period:
    """The week (Monday first) or month that holds ``day``."""
    if kind == "week":
        first = day - timedelta(days=day.weekday())
        return Period(kind, first, first + timedelta(days=6))
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(kind, first, following - timedelta(days=1))


def time_zone(name: str) -> ZoneInfo:
    """The zone called ``name``; UTC for a name this machine does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def today_in(zone: str, now: datetime) -> date:
    """The calendar day ``now`` falls on in ``zone``."""
    return now.astimezone(time_zone(zone)).date()
