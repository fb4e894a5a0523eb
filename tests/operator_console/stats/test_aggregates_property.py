"""Every aggregate of operator_console/stats equals the plain Python computation over the same
randomly generated dialogs (reference.py), including dialogs across midnight and across
daylight-saving changes in the lines' time zones. SQLite; test_stats_api.py runs a fixed data
set through both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
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

DAYS = [None, date(2026, 3, 28), date(2026, 3, 29), date(2026, 10, 25), date(2026, 11, 1)]


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
    stats_db.loop.run_until_complete(
        _check(stats_db, plain, first, last, line_id, group_by, business)
    )


async def _check(
    checker: Checker,
    plain: list[reference.PlainDialog],
    first: date | None,
    last: date | None,
    line_id: int | None,
    group_by: str,
    business: bool,
) -> None:
    db, places = checker.db, checker.places
    await put_dialogs(db, places, plain)
    query = SummaryQuery.model_validate(
        {
            "from": first,
            "to": last,
            "line_id": line_id,
            "group_by": group_by,
            "business_time": business,
        }
    )
    chosen = reference.selected(plain, places.lines, first, last, line_id)
    async with db() as session:
        selection = await select_dialogs(session, query, EVERYTHING)
        shown = await summary(session, selection, query)
        expected = reference.summary(chosen, places.lines, group_by, business)
        assert shown["total"] == expected["total"]
        assert shown["in_hours"] == expected["in_hours"]
        assert shown["out_of_hours"] == expected["out_of_hours"]
        assert api_groups(shown) == expected["groups"]
        filters = StatsFilters.model_validate({"from": first, "to": last, "line_id": line_id})
        selection = await select_dialogs(session, filters, EVERYTHING)
        assert await daily(session, selection) == reference.daily(chosen, places.lines, first, last)
        assert (await heatmap(session, selection))["cells"] == reference.heatmap(
            chosen, places.lines
        )
