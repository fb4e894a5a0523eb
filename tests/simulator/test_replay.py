"""The replay on hand-made traffic whose answer is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.schedule import check_schedule
from router.snapshots import LinePolicy
from simulator import Arrival, Behaviour, Behaviours, OperatorPlan, Setup, replay, run_figures

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY_LATER = MONDAY + timedelta(days=1)
INSTANT_TWO_MINUTES = Behaviours(pooled=Behaviour((0.0,), (0.0,), (120.0,)))
"""Operators who take and answer at once and close every dialog after two minutes."""


def every_minute(count: int) -> list[Arrival]:
    return [Arrival(n + 1, MONDAY + timedelta(minutes=n)) for n in range(count)]


def one_operator(mode: str, **policy: object) -> Setup:
    return Setup(
        LinePolicy(1, mode, (7,), **policy),  # type: ignore[arg-type]
        (OperatorPlan(7, max_on_line=1),),
    )


@pytest.mark.parametrize("mode", ["evenly", "sequence"])
def test_one_operator_of_capacity_one_queues_minute_arrivals_of_two_minute_dialogs(
    mode: str,
) -> None:
    """Dialog k arrives at minute k and starts when dialog k-1 ends, at minute 2k: it waits
    k minutes, and the operator closes the last one at minute 2n."""
    run = replay(one_operator(mode), every_minute(10), INSTANT_TWO_MINUTES, 1, DAY_LATER)
    waits = [run.dialogs[n + 1].wait_s for n in range(10)]
    assert waits == [60.0 * k for k in range(10)]
    assert run.dialogs[10].closed_at == MONDAY + timedelta(minutes=20)
    assert run.handled[7] == 10 and run.peak_load == {7: 1}
    figures = run_figures(run, one_operator(mode), ZoneInfo("UTC"))
    assert figures.scalars["wait_p50"] == 270.0  # between 4 and 5 minutes
    assert figures.scalars["past_threshold"] == 7  # waits of 3..9 minutes pass 120 s


def test_two_operators_keep_up_and_nobody_waits() -> None:
    setup = Setup(
        LinePolicy(1, "evenly", (7, 8)),
        (OperatorPlan(7, max_on_line=1), OperatorPlan(8, max_on_line=1)),
    )
    run = replay(setup, every_minute(10), INSTANT_TWO_MINUTES, 1, DAY_LATER)
    assert {d.wait_s for d in run.dialogs.values()} == {0.0}
    assert run.handled == {7: 5, 8: 5}  # evenly: the one idle longest gets the next


def test_a_client_who_gives_up_is_missed() -> None:
    arrivals = [Arrival(1, MONDAY), Arrival(2, MONDAY + timedelta(seconds=10), patience_s=30.0)]
    run = replay(one_operator("evenly"), arrivals, INSTANT_TWO_MINUTES, 1, DAY_LATER)
    assert run.dialogs[2].assigned_at is None
    assert run.dialogs[2].outcome == "client_left"
    assert run.dialogs[2].closed_at == MONDAY + timedelta(seconds=40)


def test_a_closed_line_holds_dialogs_until_it_opens() -> None:
    hours = check_schedule({"timezone": "UTC", "week": {"mon": ["10:00-18:00"]}})
    setup = one_operator("evenly", schedule=hours)
    run = replay(setup, [Arrival(1, MONDAY)], INSTANT_TWO_MINUTES, 1, DAY_LATER)
    assert run.dialogs[1].in_hours is False
    assert run.dialogs[1].wait_s == 3600.0
    assert run.events["wait:out_of_hours"] == 1


def test_an_operator_off_shift_gets_nothing_until_the_shift_starts() -> None:
    shift = check_schedule({"timezone": "UTC", "week": {"mon": ["09:30-17:00"]}})
    setup = Setup(LinePolicy(1, "evenly", (7,)), (OperatorPlan(7, shifts=shift),))
    run = replay(setup, [Arrival(1, MONDAY)], INSTANT_TWO_MINUTES, 1, DAY_LATER)
    assert run.dialogs[1].wait_s == 1800.0


def test_an_unanswered_sequential_offer_times_out_to_the_next_operator() -> None:
    slow = Behaviours({7: Behaviour(take_s=(600.0,)), 8: Behaviour(take_s=(5.0,))}, Behaviour())
    setup = Setup(
        LinePolicy(1, "sequence", (7, 8), offer_seconds=60), (OperatorPlan(7), OperatorPlan(8))
    )
    run = replay(setup, [Arrival(1, MONDAY)], slow, 1, DAY_LATER)
    assert run.dialogs[1].operator_id == 8
    assert run.dialogs[1].wait_s == 65.0
    assert run.events["timeout"] == 1


def test_a_skipped_offer_goes_to_the_next_operator() -> None:
    skipper = Behaviours(
        {7: Behaviour(take_s=(3.0,), skip_probability=1.0)}, Behaviour(take_s=(4.0,))
    )
    setup = Setup(LinePolicy(1, "sequence", (7, 8)), (OperatorPlan(7), OperatorPlan(8)))
    run = replay(setup, [Arrival(1, MONDAY)], skipper, 1, DAY_LATER)
    assert run.dialogs[1].operator_id == 8 and run.dialogs[1].wait_s == 7.0
    assert run.events["skip"] == 1


def test_the_same_seed_gives_the_same_run() -> None:
    varied = Behaviours(pooled=Behaviour((1.0, 9.0), (5.0, 50.0), (60.0, 400.0), 0.2))
    setup = Setup(
        LinePolicy(1, "sequence", (7, 8)),
        (OperatorPlan(7, max_on_line=2), OperatorPlan(8, max_on_line=2)),
    )
    arrivals = every_minute(60)
    first = replay(setup, arrivals, varied, 42, DAY_LATER)
    again = replay(setup, arrivals, varied, 42, DAY_LATER)
    other = replay(setup, arrivals, varied, 43, DAY_LATER)
    waits = [d.wait_s for d in first.dialogs.values()]
    assert waits == [d.wait_s for d in again.dialogs.values()]
    assert waits != [d.wait_s for d in other.dialogs.values()]
