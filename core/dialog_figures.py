"""The statistics' stored figures of a dialog, derived from its instants and its line.

The router writes them in the same transaction as the change that defines them (the dialog's
start, its first operator answer, its close, a move to another line), so a statistics query
reads plain columns instead of computing each dialog's seconds and local time per row:

* ``first_response_s``: whole seconds (rounded down) from the start to the first answer;
* ``duration_s``: whole seconds from the start to the close;
* ``business_frt_s``: the line's working seconds (rounded down) between the start and the
  first answer; every second counts on a line that is always open;
* ``opened_day`` (``YYYY-MM-DD``), ``opened_weekday`` (0 is Monday) and ``opened_hour``: the
  start in the line's time zone.

A zone or schedule this version cannot read counts as UTC and always open, as the router
treats it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.lines import LineSettings
from config.schedule import Schedule, working_seconds

log = logging.getLogger(__name__)

FIGURES = (
    "first_response_s",
    "duration_s",
    "business_frt_s",
    "opened_day",
    "opened_weekday",
    "opened_hour",
)
"""The stored columns, in the order ``dialog_figures`` returns them."""

SECOND = timedelta(seconds=1)


def line_zone(line_id: int, timezone: str) -> ZoneInfo:
    """A line's zone; UTC when this version cannot read it."""
    try:
        return ZoneInfo(timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        log.warning("line %d has an unknown time zone %r; counting it as UTC", line_id, timezone)
        return ZoneInfo("UTC")


def line_schedule(settings: dict[str, Any] | None, zone: ZoneInfo) -> Schedule | None:
    """A line's working hours (None: always open, also when they cannot be read)."""
    try:
        return settings_schedule(LineSettings.model_validate(settings or {}), zone)
    except ValueError:
        return None


def settings_schedule(settings: LineSettings, zone: ZoneInfo) -> Schedule | None:
    """The working hours of settings already read (None: always open, also when they cannot
    be built)."""
    try:
        return settings.build_schedule(str(zone.key))
    except ValueError:
        return None


def dialog_figures(
    opened: datetime,
    first_response: datetime | None,
    closed: datetime | None,
    zone: ZoneInfo,
    schedule: Schedule | None,
) -> tuple[int | None, int | None, int | None, str, int, int]:
    """The values of ``FIGURES`` for a dialog with these instants on a line of this zone and
    schedule."""
    first_s = None if first_response is None else (first_response - opened) // SECOND
    duration = None if closed is None else (closed - opened) // SECOND
    business: int | None = None
    if first_response is not None:
        if schedule is None:
            business = int((first_response - opened).total_seconds() // 1)
        else:
            business = int(working_seconds(schedule, opened, first_response) // 1)
    local = opened.astimezone(UTC).astimezone(zone)
    return first_s, duration, business, local.date().isoformat(), local.weekday(), local.hour
