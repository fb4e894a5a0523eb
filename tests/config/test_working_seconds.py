"""``working_seconds`` counts the open seconds of a span: checked block by block against
``is_open`` on schedules with night shifts and holidays, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from config.schedule import check_schedule, is_open, working_seconds

BERLIN = check_schedule(
    {
        "timezone": "Europe/Berlin",
        "week": {
            "mon": ["09:00-13:00", "14:00-18:00"],
            "tue": ["09:00-18:00"],
            "sat": ["22:00-06:00"],
            "sun": ["01:30-02:30", "05:00-07:00"],
        },
        "holidays": ["2026-10-27"],
    }
)
START = datetime(2026, 3, 26, tzinfo=UTC)
AUTUMN = datetime(2026, 10, 22, tzinfo=UTC)


def test_a_weekend_night_counts_only_its_open_hours() -> None:
    # Friday 20:00 to Monday 10:00 in Berlin (CET): Saturday 22:00-Sunday 06:00 (eight hours),
    # Sunday 01:30-02:30 lies within it, Sunday 05:00-07:00 adds one more hour past 06:00,
    # Monday 09:00-10:00 one hour.
    start = datetime(2026, 1, 9, 19, tzinfo=UTC)
    end = datetime(2026, 1, 12, 9, tzinfo=UTC)
    assert working_seconds(BERLIN, start, end) == 10 * 3600
    assert working_seconds(BERLIN, end, start) == 0


@settings(derandomize=True, max_examples=30, deadline=None)
@given(
    base=st.sampled_from([START, AUTUMN]),
    first=st.integers(0, 6 * 24 * 6),
    blocks=st.integers(0, 3 * 24 * 6),
)
def test_working_seconds_equal_open_blocks(base: datetime, first: int, blocks: int) -> None:
    # Every opening, closing and clock change here falls on a ten-minute mark of UTC, so the
    # line is open for the whole of a ten-minute block or for none of it.
    start = base + timedelta(minutes=10 * first)
    end = start + timedelta(minutes=10 * blocks)
    open_blocks = sum(is_open(BERLIN, start + timedelta(minutes=10 * b)) for b in range(blocks))
    assert working_seconds(BERLIN, start, end) == open_blocks * 600
