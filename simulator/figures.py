"""The figures of a what-if: each run's numbers, and their spread over the seeded runs."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from simulator.engine import replay
from simulator.model import Arrival, Behaviours, Setup
from simulator.outcome import RunOutcome

SCALARS = (
    "wait_p50",
    "wait_p90",
    "missed",
    "past_threshold",
    "first_response_p50",
    "first_response_p90",
    "out_of_hours",
    "skipped",
    "timed_out",
    "peak_load",
)
"""The figures compared side by side, in the order the page shows them."""


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` (0..1) percentile of ``values`` by linear interpolation; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class RunFigures:
    """The figures of one run."""

    scalars: dict[str, float]
    per_operator: dict[int, int]
    peak_by_operator: dict[int, int]
    wait_by_hour: list[float]
    """Mean wait in seconds of the dialogs arriving in each local hour of the day (0..23)."""


def run_figures(run: RunOutcome, setup: Setup, zone: ZoneInfo) -> RunFigures:
    """The figures of one run of ``setup``."""
    dialogs = list(run.dialogs.values())
    waits = [w for d in dialogs if (w := d.wait_s) is not None]
    answers = [f for d in dialogs if (f := d.first_response_s) is not None]
    threshold = setup.long_wait_seconds
    missed = sum(1 for d in dialogs if d.assigned_at is None)
    past = sum(
        1
        for d in dialogs
        if (d.wait_s is not None and d.wait_s > threshold)
        or (d.assigned_at is None and _waited(d.arrived, d.closed_at) > threshold)
    )
    by_hour: list[list[float]] = [[] for _ in range(24)]
    for d in dialogs:
        if (wait := d.wait_s) is not None:
            by_hour[d.arrived.astimezone(zone).hour].append(wait)
    scalars = {
        "wait_p50": percentile(waits, 0.5),
        "wait_p90": percentile(waits, 0.9),
        "missed": float(missed),
        "past_threshold": float(past),
        "first_response_p50": percentile(answers, 0.5),
        "first_response_p90": percentile(answers, 0.9),
        "out_of_hours": float(sum(1 for d in dialogs if not d.in_hours)),
        "skipped": float(run.events["skip"]),
        "timed_out": float(run.events["timeout"]),
        "peak_load": float(max(run.peak_load.values(), default=0)),
    }
    return RunFigures(
        scalars,
        dict(run.handled),
        dict(run.peak_load),
        [statistics.fmean(h) if h else 0.0 for h in by_hour],
    )


def _waited(arrived: datetime, closed: datetime | None) -> float:
    # A dialog nobody took and still open at the end waited past any threshold.
    return float("inf") if closed is None else (closed - arrived).total_seconds()


@dataclass(frozen=True, slots=True)
class Spread:
    """A figure over the seeded runs: the median run, and the lowest and highest."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of ``values`` (one per run)."""
        return cls(statistics.median(values), min(values), max(values))

    def as_json(self) -> dict[str, float]:
        """The JSON the console shows."""
        return {
            "median": round(self.median, 1),
            "low": round(self.low, 1),
            "high": round(self.high, 1),
        }


def summary(runs: Sequence[RunFigures], setup: Setup) -> dict[str, object]:
    """The JSON of one setup over its runs: spreads, per-operator figures, waits by hour."""
    operators = sorted(
        {op for r in runs for op in r.per_operator} | {p.operator_id for p in setup.operators}
    )
    capacity = {p.operator_id: p.max_on_line for p in setup.operators}
    return {
        "figures": {name: Spread.of([r.scalars[name] for r in runs]).as_json() for name in SCALARS},
        "operators": [
            {
                "operator_id": op,
                "dialogs": Spread.of([r.per_operator.get(op, 0) for r in runs]).as_json(),
                "peak_load": max(r.peak_by_operator.get(op, 0) for r in runs),
                "capacity": capacity.get(op),
            }
            for op in operators
        ],
        "wait_by_hour": [
            round(statistics.median(r.wait_by_hour[h] for r in runs), 1) for h in range(24)
        ],
    }


Progress = Callable[[int, int], None]
"""Told (runs done, runs in all) after each run."""


def compare(
    setups: dict[str, Setup],
    arrivals: Sequence[Arrival],
    behaviours: Behaviours,
    *,
    runs: int,
    seed: int,
    until: datetime,
    zone: ZoneInfo,
    progress: Progress | None = None,
) -> dict[str, dict[str, object]]:
    """Run every setup ``runs`` times with seeds ``seed``, ``seed + 1``, … (the same seeds for
    each setup, so a difference comes from the setup and not from luck)."""
    total = runs * len(setups)
    done = 0
    result: dict[str, dict[str, object]] = {}
    for name, setup in setups.items():
        figures = []
        for offset in range(runs):
            outcome = replay(setup, arrivals, behaviours, seed + offset, until)
            figures.append(run_figures(outcome, setup, zone))
            done += 1
            if progress is not None:
                progress(done, total)
        result[name] = summary(figures, setup)
    return result
