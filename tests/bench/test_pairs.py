"""The side-by-side summary: a figure no run has is left out, the others compared."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from bench import pairs
from bench.pairs import _summary


def _run(cpu: float, p99: float, burst_p99: float | None = None) -> dict[str, object]:
    e2e: dict[str, object] = {"visitor_to_operator": {"p99_ms": p99}}
    if burst_p99 is not None:
        e2e["in_burst_to_operator"] = {"p99_ms": burst_p99}
        e2e["outside_burst_to_operator"] = {"p99_ms": p99 / 2}
    return {"hub_cpu_ms_per_visitor_message": cpu, "e2e": e2e}


def test_the_burst_figures_show_only_for_runs_with_a_burst() -> None:
    plain = _summary([{"a": _run(3.0, 50), "b": _run(2.0, 40)}], ["a", "b"])
    assert "burst" not in plain
    assert "x0.67 of a" in plain  # b's CPU against a's
    burst = _summary([{"a": _run(3.0, 50, 120), "b": _run(2.0, 40, 60)}], ["a", "b"])
    assert "sent in the burst's 2 s p99 ms" in burst
    assert "sent at other times p99 ms" in burst
    assert "x0.50 of a" in burst  # b's burst p99 against a's


_STAND_IN = """
import json, sys, time
args = sys.argv[1:]
started = time.monotonic()
time.sleep(0.4)
out = args[args.index("--json") + 1]
json.dump({"started": started, "ended": time.monotonic(), "args": args}, open(out, "w"))
"""


def _spans(runs: dict[str, dict[str, Any]]) -> list[tuple[float, float]]:
    return sorted((run["started"], run["ended"]) for run in runs.values())


def test_in_turns_the_variants_run_one_after_another_and_otherwise_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is measured (``_round``'s scheduling) with a stand-in for the benchmark that only
    notes when it ran, so that the test takes a second, not minutes."""
    script = tmp_path / "stand_in.py"
    script.write_text(_STAND_IN)
    monkeypatch.setattr(pairs, "BENCHMARK", (str(script),))
    variants = {"one": ["--a"], "split": ["--b"], "two": ["--c"]}

    apart = _spans(pairs._round(variants, 1, tmp_path, in_turns=True))
    assert len(apart) == 3
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(apart))

    together = _spans(pairs._round(variants, 2, tmp_path, in_turns=False))
    assert max(start for start, _ in together) < min(end for _, end in together)
