"""Hypothesis strategies of small sets of dialogs around midnights and daylight-saving
changes of the lines of ``dataset``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from tests.operator_console.stats.dataset import Places
from tests.operator_console.stats.reference import PlainDialog

ANCHORS = (
    datetime(2026, 3, 28, 21, 30, tzinfo=UTC),  # Berlin: the night before spring forward
    datetime(2026, 3, 29, 0, 45, tzinfo=UTC),  # Berlin: just before 02:00 CET jumps
    datetime(2026, 10, 24, 22, 10, tzinfo=UTC),  # Berlin: midnight before falling back
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # Berlin: the repeated hour
    datetime(2026, 3, 8, 6, 0, tzinfo=UTC),  # New York: spring forward
    datetime(2026, 11, 1, 4, 40, tzinfo=UTC),  # New York: fall back, around local midnight
)


def instants() -> st.SearchStrategy[datetime]:
    """An instant within a day and a half of one of the anchors, sometimes with microseconds."""
    return st.builds(
        lambda anchor, seconds, micro: anchor + timedelta(seconds=seconds, microseconds=micro),
        st.sampled_from(ANCHORS),
        st.integers(-18 * 3600, 18 * 3600),
        st.sampled_from([0, 0, 1, 499_999, 999_999]),
    )


def later(start: datetime) -> st.SearchStrategy[datetime | None]:
    """None, or an instant up to two days after ``start``."""
    return st.none() | st.builds(
        lambda seconds, micro: start + timedelta(seconds=seconds, microseconds=micro),
        st.integers(0, 2 * 86400),
        st.sampled_from([0, 1, 999_999]),
    )


@st.composite
def dialogs(draw: st.DrawFn, places: Places) -> PlainDialog:
    """One dialog on one of the channels."""
    channel_id = draw(st.sampled_from(sorted(places.channels)))
    line_id, kind = places.channels[channel_id]
    opened = draw(instants())
    return PlainDialog(
        line_id=line_id,
        channel_id=channel_id,
        channel_kind=kind,
        operator_id=draw(st.none() | st.sampled_from(sorted(places.operators.values()))),
        status=draw(st.sampled_from(["waiting", "open", "closed"])),
        opened_at=opened,
        first_response_at=draw(later(opened)),
        closed_at=draw(later(opened)),
        began_in_hours=draw(st.none() | st.booleans()),
        outcome=draw(
            st.none() | st.sampled_from(["answered", "missed", "out_of_hours", "client_left"])
        ),
        rating=draw(st.none() | st.integers(1, 5)),
        client_messages=draw(st.integers(0, 9)),
        operator_messages=draw(st.integers(0, 9)),
    )
