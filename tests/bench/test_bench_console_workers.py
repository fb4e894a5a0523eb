"""The console-workers benchmark, end to end on a small history: each layout is driven, every
request answered, and the CPU is split over the workers of the layout that has several."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import console_workers

pytestmark = [pytest.mark.timeout(180), pytest.mark.servers]


def test_one_round_of_each_layout_reports_what_it_measured(tmp_path: Path) -> None:
    out = tmp_path / "runs.json"
    # Each client keeps one connection, and the kernel hands each to a worker by a hash: with 4
    # clients both workers got some in only 7 runs of 8; with 16, all but 1 in 32 768.
    argv = ["--workers", "1", "2", "--rounds", "1", "--seconds", "1", "--clients", "16"]
    assert console_workers.main([*argv, "--messages", "2000", "--json", str(out)]) == 0
    runs = {run["workers"]: run for run in json.loads(out.read_text())["runs"]}
    assert sorted(runs) == [1, 2]
    for run in runs.values():
        assert run["requests"] > 0
        assert 0 < run["p50_ms"] <= run["p99_ms"]
        assert run["console_cpu_s"] > 0
        assert run["per_second"] == pytest.approx(run["requests"] / run["seconds"])
    assert runs[1]["by_worker"] == []
    shares = runs[2]["by_worker"]
    assert len(shares) == 2 and all(share > 0 for share in shares)
    assert sum(shares) <= 100.0 + 1e-6  # the supervisor's own CPU is the rest


def test_a_round_on_postgres_reads_the_filled_dialogs(tmp_path: Path) -> None:
    out = tmp_path / "runs.json"
    argv = ["--postgres", "--workers", "1", "--rounds", "1", "--seconds", "1", "--clients", "2"]
    assert console_workers.main([*argv, "--messages", "500", "--json", str(out)]) == 0
    (run,) = json.loads(out.read_text())["runs"]
    # Every request a dialog of the fill (the admin's sign-in works, every answer was 200).
    assert run["requests"] > 0 and run["console_cpu_s"] > 0
    assert run["database_cpu_s"] > 0  # PostgreSQL's own processes, measured beside
