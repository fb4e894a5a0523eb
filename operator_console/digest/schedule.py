"""When a digest week ends, and which week that is. Pure: the instant is passed in."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from operator_console.kpi.periods import Period, period_of, time_zone


def next_week_end(now: datetime, zone: str) -> datetime:
    """The first Monday 00:00 in ``zone`` strictly after ``now``, as a UTC instant."""
    local = now.astimezone(time_zone(zone))
    monday = local.date() + timedelta(days=7 - local.weekday())
    return datetime.combine(monday, time(), tzinfo=time_zone(zone)).astimezone(UTC)


def week_ended_at(end: datetime, zone: str) -> Period:
    """The Monday-to-Sunday week that ends at the instant ``end`` in ``zone``."""
    sunday = end.astimezone(time_zone(zone)).date() - timedelta(days=1)
    return period_of("week", sunday)
