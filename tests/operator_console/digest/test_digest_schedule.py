"""When the digest's week ends, in a zone with daylight saving, and which week it covers."""

from __future__ import annotations

from datetime import UTC, date, datetime

from operator_console.digest.schedule import next_week_end, week_ended_at


def test_the_week_ends_at_the_next_monday_midnight_of_the_zone() -> None:
    # Sunday 23:59 UTC: one minute before the week ends.
    assert next_week_end(datetime(2026, 3, 8, 23, 59, tzinfo=UTC), "UTC") == datetime(
        2026, 3, 9, tzinfo=UTC
    )
    # At Monday 00:00 exactly, that week end has passed: the next one is a week later.
    assert next_week_end(datetime(2026, 3, 9, tzinfo=UTC), "UTC") == datetime(
        2026, 3, 16, tzinfo=UTC
    )


def test_a_week_end_after_new_york_moved_its_clocks_is_midnight_local_time() -> None:
    # Clocks went forward on Sunday 2026-03-08: Monday 00:00 is EDT (UTC-4), not EST (UTC-5).
    end = next_week_end(datetime(2026, 3, 5, 12, tzinfo=UTC), "America/New_York")
    assert end == datetime(2026, 3, 9, 4, tzinfo=UTC)
    week = week_ended_at(end, "America/New_York")
    assert (week.kind, week.first, week.last) == ("week", date(2026, 3, 2), date(2026, 3, 8))
    # Moscow (UTC+3) ends the same week at Sunday 21:00 UTC; half an hour later it is
    # already Monday there, so the next end is a week on.
    moscow = "Europe/Moscow"
    assert next_week_end(datetime(2026, 3, 8, 20, 30, tzinfo=UTC), moscow) == datetime(
        2026, 3, 8, 21, tzinfo=UTC
    )
    assert next_week_end(datetime(2026, 3, 8, 21, 30, tzinfo=UTC), moscow) == datetime(
        2026, 3, 15, 21, tzinfo=UTC
    )
