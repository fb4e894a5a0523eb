"""A line's clock for the statistics: its zone and working hours, and where its local days
begin in UTC (the date filters). Each dialog's local date, weekday and hour are stored on it by
the router (``core.dialog_figures``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from config.schedule import Schedule


@dataclass(frozen=True, slots=True)
class LineClock:
    """What the statistics need to know of a line: its name, zone and working hours (None:
    always open)."""

    line_id: int
    name: str
    zone: ZoneInfo
    schedule: Schedule | None

    def midnight(self, day: date) -> datetime:
        """The UTC instant the line's local ``day`` begins."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    def local_day(self, at: datetime) -> date:
        """The line's local date at the instant ``at``."""
        return at.astimezone(self.zone).date()
