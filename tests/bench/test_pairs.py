"""The side-by-side summary: a figure no run has is left out, the others compared."""

from __future__ import annotations

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
