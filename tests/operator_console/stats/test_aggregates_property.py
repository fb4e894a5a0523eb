"""Every aggregate of operator_console/stats equals the plain Python computation over the same
randomly generated dialogs (reference.py), including dialogs across midnight and across
daylight-saving changes in the lines' time zones, over date ranges of whole months, parts of
months and both, narrowed to a channel, an operator or the working hours. SQLite;
test_stats_api.py runs a fixed data set through both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from core.db import SessionMaker, make_engine, make_sessionmaker
from core.db.migrate import upgrade
from operator_console.stats.charts import daily, heatmap
from operator_console.stats.dialogs import select_dialogs
from operator_console.stats.filters import StatsFilters, SummaryQuery
from operator_console.stats.scope import EVERYTHING
from operator_console.stats.summary import summary
from tests.operator_console.stats import reference
from tests.operator_console.stats.dataset import Places, make_places, put_dialogs
from tests.operator_console.stats.strategies import dialogs

DAYS = [
    None,
    date(2026, 3, 1),
    date(2026, 3, 28),
    date(2026, 3, 29),
    date(2026, 3, 31),
    date(2026, 4, 1),
    date(2026, 10, 1),
    date(2026, 10, 25),
    date(2026, 10, 31),
    date(2026, 11, 1),
    date(2026, 11, 30),
]
"""Around the anchors of ``strategies``, and the first and last days of their months: the
summary reads whole months from the monthly first response counts and the ends of a range
from the daily ones."""


@pytest.fixture(scope="module")
def stats_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Checker]:
    """A migrated SQLite database with the places of ``dataset``, and a private event loop:
    hypothesis drives a plain function, which runs each example's coroutine on that loop."""
    path: Path = tmp_path_factory.mktemp("stats") / "stats.db"
    loop = asyncio.new_event_loop()
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        loop.run_until_complete(upgrade(engine))
        sessions = make_sessionmaker(engine)
        places = loop.run_until_complete(make_places(sessions))
        yield Checker(loop, sessions, places)
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


@dataclass
class Checker:
    loop: asyncio.AbstractEventLoop
    db: SessionMaker
    places: Places


def api_groups(shown: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    return {
        g["key"]: {k: v for k, v in g.items() if k not in ("key", "label")} for g in shown["groups"]
    }


@settings(
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_aggregates_equal_a_plain_computation(stats_db: Checker, data: st.DataObject) -> None:
    places = stats_db.places
    plain = data.draw(st.lists(dialogs(places), max_size=25), label="dialogs")
    first = data.draw(st.sampled_from(DAYS), label="from")
    last = data.draw(
        st.sampled_from([d for d in DAYS if d is None or first is None or d >= first]), label="to"
    )
    line_id = data.draw(st.none() | st.sampled_from(sorted(places.lines)), label="line_id")
    group_by = data.draw(st.sampled_from(["line", "channel", "operator"]), label="group_by")
    business = data.draw(st.booleans(), label="business_time")
    narrow = data.draw(
        st.sampled_from([{}, {"in_hours": True}, {"in_hours": False}])
        | st.builds(lambda c: {"channel_id": c}, st.sampled_from(sorted(places.channels)))
        | st.builds(
            lambda o: {"operator_id": o}, st.sampled_from(sorted(places.operators.values()))
        ),
        label="narrowed to",
    )
    stats_db.loop.run_until_complete(
        _check(stats_db, plain, (first, last, line_id, narrow), group_by, business)
    )


def _narrowed(dialogs: list[reference.PlainDialog], narrow: dict[str, Any]) -> list[Any]:
    """The dialogs of a channel, an operator or (not) begun in working hours."""
    named = {"in_hours": "began_in_hours"}
    return [d for d in dialogs if all(getattr(d, named.get(k, k)) == v for k, v in narrow.items())]


async def _check(
    checker: Checker,
    plain: list[reference.PlainDialog],
    chosen_by: tuple[date | None, date | None, int | None, dict[str, Any]],
    group_by: str,
    business: bool,
) -> None:
    db, places = checker.db, checker.places
    first, last, line_id, narrow = chosen_by
    await put_dialogs(db, places, plain)
    query = SummaryQuery.model_validate(
        {
            "from": first,
            "to": last,
            "line_id": line_id,
            "group_by": group_by,
            "business_time": business,
            **narrow,
        }
    )
    chosen = _narrowed(reference.selected(plain, places.lines, first, last, line_id), narrow)
    async with db() as session:
        selection = await select_dialogs(session, query, EVERYTHING)
        shown = await summary(session, selection, query)
        expected = reference.summary(chosen, places.lines, group_by, business)
        assert shown["total"] == expected["total"]
        assert shown["in_hours"] == expected["in_hours"]
        assert shown["out_of_hours"] == expected["out_of_hours"]
        assert api_groups(shown) == expected["groups"]
        chosen = reference.selected(plain, places.lines, first, last, line_id)
        filters = StatsFilters.model_validate({"from": first, "to": last, "line_id": line_id})
        selection = await select_dialogs(session, filters, EVERYTHING)
        assert await daily(session, selection) == reference.daily(chosen, places.lines, first, last)
        assert (await heatmap(session, selection))["cells"] == reference.heatmap(
            chosen, places.lines
        )


def _moved(dialog: reference.PlainDialog, day_of_year: int) -> reference.PlainDialog:
    """The same dialog on another day of 2026 at the same time, to spread dialogs over the
    months of a year."""
    to = date(2026, 1, 1) + timedelta(days=day_of_year)
    shift = timedelta(days=(to - dialog.opened_at.date()).days)
    return replace(
        dialog,
        opened_at=dialog.opened_at + shift,
        first_response_at=dialog.first_response_at and dialog.first_response_at + shift,
        closed_at=dialog.closed_at and dialog.closed_at + shift,
    )


MONTH_EDGES = [date(2026, m, 1) for m in range(1, 12)] + [
    date(2026, m, 1) - timedelta(days=1) for m in range(2, 12)
]


@settings(
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_first_responses_over_months_equal_a_plain_computation(
    stats_db: Checker, data: st.DataObject
) -> None:
    """Dialogs spread over a year, ranges of whole months, with or without a part of a month
    at either end: the monthly first response counts plus the daily ones at the ends give the
    percentiles of the dialogs themselves."""
    places = stats_db.places
    spread = st.builds(_moved, dialogs(places), st.integers(0, 330))
    plain = data.draw(st.lists(spread, min_size=10, max_size=40), label="dialogs")
    edge = st.sampled_from(MONTH_EDGES) | st.dates(date(2026, 1, 1), date(2026, 11, 30))
    first = data.draw(edge, label="from")
    last = data.draw(edge.filter(lambda d: d >= first), label="to")
    group_by = data.draw(st.sampled_from(["line", "channel", "operator"]), label="group_by")
    narrow = data.draw(
        st.sampled_from([{}, {"in_hours": True}])
        | st.builds(lambda c: {"channel_id": c}, st.sampled_from(sorted(places.channels)))
        | st.builds(
            lambda o: {"operator_id": o}, st.sampled_from(sorted(places.operators.values()))
        ),
        label="narrowed to",
    )
    business = data.draw(st.booleans(), label="business_time")
    stats_db.loop.run_until_complete(
        _check(stats_db, plain, (first, last, None, narrow), group_by, business)
    )
