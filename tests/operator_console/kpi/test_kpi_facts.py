"""KPI facts and rating units counted in SQL, against a plain Python count over the same
seeded dialogs, on SQLite and PostgreSQL; and the pure rules of plans and periods."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from core.db import SessionMaker, make_engine, make_sessionmaker, upgrade
from operator_console.kpi.facts import OperatorFacts, facts_of, operator_zones
from operator_console.kpi.periods import period_of
from operator_console.kpi.rating import ranking
from operator_console.kpi.targets import PlanRow, effective_plans, judge
from tests.support.kpi_world import WEEK_DAY, ZONES, expected_facts, seed_kpi_world


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[SessionMaker]:
    engine = make_engine(db_url)
    await upgrade(engine)
    yield make_sessionmaker(engine)
    await engine.dispose()


def as_dict(facts: OperatorFacts) -> dict[str, object]:
    return {
        "dialogs": facts.dialogs,
        "missed": facts.missed,
        "rating_avg": facts.rating_avg,
        "frt_p90_s": facts.frt_p90_s,
        "crm_points": facts.crm_points,
        "crm_fields": facts.crm_fields,
        "answered_by_kind": facts.answered_by_kind,
        "leads": facts.leads,
        "email_replies": facts.email_replies,
    }


@pytest.mark.parametrize("seed", [1, 2])
async def test_facts_in_sql_match_a_python_count_in_each_operators_time_zone(
    db: SessionMaker, seed: int
) -> None:
    world = await seed_kpi_world(db, seed)
    people = ["olga", "mara", "petr", "ivan"]
    async with db() as session:
        zones = await operator_zones(session, [world.ids[p] for p in people])
        facts = await facts_of(session, period_of("week", WEEK_DAY), zones)
    assert zones == {world.ids[p]: ZONES[p] for p in people}
    for who in people:
        got, want = as_dict(facts[world.ids[who]]), expected_facts(world, who)
        if want["rating_avg"] is not None:
            assert got.pop("rating_avg") == pytest.approx(want.pop("rating_avg"))
        assert got == want, who


def test_a_week_that_crosses_a_dst_change_is_an_hour_short() -> None:
    week = period_of("week", WEEK_DAY)
    assert (week.first, week.last) == (date(2026, 3, 2), date(2026, 3, 8))
    start, end = week.bounds("America/New_York")
    assert start == datetime(2026, 3, 2, 5, tzinfo=UTC)
    assert end - start == timedelta(hours=167)
    month = period_of("month", date(2026, 2, 14))
    assert (month.first, month.last) == (date(2026, 2, 1), date(2026, 2, 28))
    assert month.bounds("Europe/Moscow")[0] == datetime(2026, 1, 31, 21, tzinfo=UTC)


def test_a_verdict_says_met_and_how_far_off_for_floors_and_ceilings() -> None:
    short = judge("dialogs", 40, 30)
    assert (short.met, short.done_pct, short.off_by) == (False, 75.0, 10)
    over = judge("frt_p90_s", 60, 90)
    assert (over.met, over.done_pct, over.off_by) == (False, 66.7, 30)
    within = judge("missed", 3, 1)
    assert (within.met, within.done_pct, within.off_by) == (True, 100.0, 0)
    assert judge("rating_avg", 4.5, None).met is None


def test_an_operators_own_plan_overrides_the_group_plan() -> None:
    plans = [
        PlanRow(1, "week", "dialogs", 40, None, 7),
        PlanRow(2, "week", "dialogs", 55, 3, None),
        PlanRow(3, "week", "missed", 2, None, 7),
        PlanRow(4, "week", "missed", 9, None, 5),
        PlanRow(5, "month", "crm_points", 100, None, 7),
    ]
    chosen = effective_plans(3, [7, 5], "week", plans)
    assert {k: p.id for k, p in chosen.items()} == {"dialogs": 2, "missed": 4}
    assert {k: p.id for k, p in effective_plans(4, [7], "week", plans).items()} == {
        "dialogs": 1,
        "missed": 3,
    }


def test_equal_points_share_a_rank() -> None:
    places = ranking([(1, 5.0), (2, 9.0), (3, 5.0), (4, 1.0)])
    assert [(p.operator_id, p.rank) for p in places] == [(2, 1), (1, 2), (3, 2), (4, 4)]
