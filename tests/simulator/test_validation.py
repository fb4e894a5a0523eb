"""Replaying the current setup reproduces recorded reality within the stated tolerance: on a
recorded fixture and on generated benchmark data (smaller than the benchmark's week)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from router.snapshots import LinePolicy
from simulator import Arrival, OperatorPlan, Setup, compare, percentile
from simulator.history import fit_behaviours
from simulator.synthetic import (
    fitted_behaviours,
    generated_week,
    recorded,
    recorded_waits,
    true_behaviours,
    within_tolerance,
)

FIXTURE = Path(__file__).parent / "fixtures" / "recorded_week.json"
UTC = ZoneInfo("UTC")


def test_the_replay_reproduces_a_recorded_week_within_tolerance() -> None:
    """The fixture comes from a plain first-come queue of three operators, not from the
    simulator; behaviour is fitted from it as from the database."""
    week = json.loads(FIXTURE.read_text(encoding="utf-8"))
    start = datetime.fromisoformat(week["start"])
    arrivals, waits = [], []
    answer: dict[int, list[float]] = defaultdict(list)
    duration: dict[int, list[float]] = defaultdict(list)
    for n, (arrived, operator, waited, first, closed) in enumerate(week["dialogs"]):
        arrivals.append(Arrival(n + 1, start + timedelta(seconds=arrived)))
        waits.append(float(waited))
        answer[operator].append(float(first))
        duration[operator].append(float(closed))
    behaviours = fit_behaviours({}, answer, duration, {})
    queue = tuple(week["queue"])
    setup = Setup(
        LinePolicy(1, week["mode"], queue),
        tuple(OperatorPlan(op, max_on_line=week["max_per_operator"]) for op in queue),
    )
    until = start + timedelta(days=8)
    result = compare(
        {"current": setup}, arrivals, behaviours, runs=5, seed=1, until=until, zone=UTC
    )
    figures = result["current"]["figures"]
    assert isinstance(figures, dict)
    for name, share in (("wait_p50", 0.5), ("wait_p90", 0.9)):
        real = percentile(waits, share)
        assert within_tolerance(figures[name]["median"], real), (name, real, figures[name])
    assert real > 120  # a busy week: the p90 check is not a comparison of zeros


def test_the_replay_reproduces_generated_benchmark_data_within_tolerance() -> None:
    start = datetime(2026, 11, 16, tzinfo=UTC)
    operators = (1, 2, 3)
    arrivals = generated_week(start, 1500, seed=3)
    truth = true_behaviours(operators, seed=4)
    setup = Setup(
        LinePolicy(1, "evenly", operators),
        tuple(OperatorPlan(op, max_on_line=2) for op in operators),
    )
    until = start + timedelta(days=8)
    record = recorded(setup, arrivals, truth, seed=7, until=until)
    fitted = fitted_behaviours(record, truth)
    result = compare({"current": setup}, arrivals, fitted, runs=3, seed=100, until=until, zone=UTC)
    figures = result["current"]["figures"]
    assert isinstance(figures, dict)
    waits = recorded_waits(record)
    for name, share in (("wait_p50", 0.5), ("wait_p90", 0.9)):
        assert within_tolerance(figures[name]["median"], percentile(waits, share)), name
