"""Benchmark and validation of the routing what-if on a generated week.

A week of ``--dialogs`` arrivals (10 000 by default) on a line of ten operators is recorded
once with known behaviour; then behaviour is fitted from that record and the week is replayed
for the current setup and a proposal (sequential 90-second offers), ``--runs`` seeded runs
each, as the console does. Prints the time of one run and of the whole comparison (wall and
CPU) and whether the replay of the current setup reproduces the recorded waits within the
stated tolerance. Exit status 0 when it does and one run's CPU time is at most ``--budget``
seconds (CPU, not wall: on a shared machine the wall clock measures the neighbours).

    .venv/bin/python -m bench.whatif [--dialogs 10000] [--runs 3] [--budget 10]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from router.snapshots import LinePolicy
from simulator import OperatorPlan, Setup, compare, percentile
from simulator.synthetic import (
    TOLERANCE_SECONDS,
    TOLERANCE_SHARE,
    fitted_behaviours,
    generated_week,
    recorded,
    recorded_waits,
    true_behaviours,
    within_tolerance,
)

START = datetime(2026, 11, 16, tzinfo=UTC)
OPERATORS = tuple(range(1, 11))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when it meets its budget and tolerance."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=10.0, help="seconds for one run")
    args = parser.parse_args(argv)
    until = START + timedelta(days=8)
    arrivals = generated_week(START, args.dialogs, seed=1)
    truth = true_behaviours(OPERATORS, seed=2)
    current = Setup(
        LinePolicy(1, "evenly", OPERATORS),
        tuple(OperatorPlan(op, max_on_line=3) for op in OPERATORS),
    )
    proposed = Setup(replace(current.policy, mode="sequence", offer_seconds=90), current.operators)
    record = recorded(current, arrivals, truth, seed=7, until=until)
    fitted = fitted_behaviours(record, truth)
    one_wall, one_cpu = time.perf_counter(), time.process_time()
    compare(
        {"current": current}, arrivals, fitted, runs=1, seed=100, until=until, zone=ZoneInfo("UTC")
    )
    one_wall, one_cpu = time.perf_counter() - one_wall, time.process_time() - one_cpu
    wall, cpu = time.perf_counter(), time.process_time()
    result = compare(
        {"current": current, "proposed": proposed},
        arrivals,
        fitted,
        runs=args.runs,
        seed=100,
        until=until,
        zone=ZoneInfo("UTC"),
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    waits = recorded_waits(record)
    real = {"wait_p50": percentile(waits, 0.5), "wait_p90": percentile(waits, 0.9)}
    figures = result["current"]["figures"]
    assert isinstance(figures, dict)
    ok = one_cpu <= args.budget
    print(f"dialogs {args.dialogs}, operators {len(OPERATORS)}, runs per setup {args.runs}")
    print(
        f"one run (a week): wall {one_wall:.2f} s, CPU {one_cpu:.2f} s; budget {args.budget:.0f} s"
    )
    print(f"comparison, 2 setups x {args.runs} runs: wall {wall:.2f} s, CPU {cpu:.2f} s")
    print(f"tolerance: within {TOLERANCE_SHARE:.0%} or {TOLERANCE_SECONDS:.0f} s")
    for name, value in real.items():
        replayed = figures[name]["median"]
        good = within_tolerance(replayed, value)
        ok = ok and good
        print(
            f"{name}: recorded {value:.1f} s, replayed {replayed:.1f} s",
            "ok" if good else "OUT OF TOLERANCE",
        )
    proposed_figures = result["proposed"]["figures"]
    assert isinstance(proposed_figures, dict)
    for name in ("wait_p50", "wait_p90", "past_threshold", "timed_out"):
        print(f"proposal {name}: {figures[name]['median']} -> {proposed_figures[name]['median']}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
