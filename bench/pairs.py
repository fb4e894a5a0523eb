"""Variants of the end-to-end benchmark run side by side, round after round, and their medians.

```sh
.venv/bin/python -m bench.pairs --rounds 3 one= split="--roles split" \\
    routers2="--roles split --routers 2"
.venv/bin/python -m bench.pairs --common "--rate 30 --visitors 30 --duration 20" \\
    empty= history="--prefill-messages 1000000 --prefill-open-dialogs 10000"
```

Each round starts one ``python -m bench.e2e_webchat`` per variant at the same moment (each
with its own Redis, hub and database; their talking phases start together, whatever each
start-up took) and waits for all of them: on a shared machine, runs
one after another vary with the load far more than runs that share the same moments. The
starting order turns round by round. Printed per variant: the median over the rounds of the
hub's CPU per visitor message, of the steady visitor msg/s and of the visitor → operator
latency, and each figure's median ratio to the first variant's in the same round.

With ``--in-turns`` each round runs the variants one after another instead, in the same
turning order: what a whole machine carries (msg/s of one process against several) is only
measured alone, since variants at the same moments share the cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.procs import Child, spawn

BENCHMARK = ("-m", "bench.e2e_webchat")
"""What each run is (after the interpreter): the end-to-end benchmark."""

FIGURES: dict[str, tuple[str, ...]] = {
    "hub CPU ms / visitor msg": ("hub_cpu_ms_per_visitor_message",),
    "steady visitor msg/s": ("e2e", "steady_msgs_per_s"),
    "visitor -> operator p50 ms": ("e2e", "visitor_to_operator", "p50_ms"),
    "visitor -> operator p99 ms": ("e2e", "visitor_to_operator", "p99_ms"),
    "first message p99 ms": ("e2e", "opening_to_operator", "p99_ms"),
    "first message stored echo p99 ms": ("e2e", "opening_echo", "p99_ms"),
    "in an open dialog p99 ms": ("e2e", "open_dialog_to_operator", "p99_ms"),
    "sent in the burst's 2 s p99 ms": ("e2e", "in_burst_to_operator", "p99_ms"),
    "sent at other times p99 ms": ("e2e", "outside_burst_to_operator", "p99_ms"),
}
"""The figures compared; one that no run has (the burst's, without ``--burst``) is left out."""


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pairs", description=__doc__)
    parser.add_argument("variants", nargs="+", help="NAME=ARGS of bench.e2e_webchat; 2 or more")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all variants (3)")
    parser.add_argument("--common", default="", help="arguments every variant gets")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument(
        "--in-turns",
        action="store_true",
        help="run a round's variants one after another, each with the machine to itself",
    )
    args = parser.parse_args(argv)
    if len(args.variants) < 2 or any("=" not in v for v in args.variants):
        parser.error("give two or more variants as NAME=ARGS")
    return args


def _figure(run: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = run
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else float("nan")


def _round(
    variants: dict[str, list[str]], turn: int, tmp: Path, in_turns: bool
) -> dict[str, dict[str, Any]]:
    """All variants at once, or one after another; each one's JSON report (empty if it wrote
    none)."""
    names = list(variants)
    names = names[turn % len(names) :] + names[: turn % len(names)]
    if not in_turns:
        return _together(variants, names, turn, tmp)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        results.update(_together(variants, [name], turn, tmp))
    return results


def _together(
    variants: dict[str, list[str]], names: list[str], turn: int, tmp: Path
) -> dict[str, dict[str, Any]]:
    """The variants ``names`` at the same moments."""
    running: dict[str, tuple[Child, Path]] = {}
    try:
        for name in names:
            out = tmp / f"{name}-{turn}.json"
            command = [sys.executable, *BENCHMARK, *variants[name]]
            command += ["--barrier", f"{tmp / f'round-{turn}-{names[0]}'}:{len(names)}"]
            log = tmp / f"{name}-{turn}.log"
            running[name] = (spawn(name, [*command, "--json", str(out)], log, Path.cwd()), out)
        results = {}
        for name, (child, out) in running.items():
            code = child.process.wait()
            results[name] = json.loads(out.read_text()) if out.exists() else {}
            results[name]["exit_status"] = code
            if code != 0:
                print(f"--- {name} exited with {code} ---\n{child.tail(15)}", file=sys.stderr)
        return results
    finally:
        for child, _out in running.values():  # an interrupt: each run stops what it started
            child.stop(60)


def _summary(runs: list[dict[str, dict[str, Any]]], names: list[str]) -> str:
    lines = []
    for label, path in FIGURES.items():
        if all(math.isnan(_figure(r[name], path)) for r in runs for name in names):
            continue
        lines.append(label)
        for name in names:
            values = [_figure(r[name], path) for r in runs]
            ratios = [_figure(r[name], path) / _figure(r[names[0]], path) for r in runs]
            each = ", ".join(f"{v:.2f}" for v in values)
            lines.append(
                f"  {name:<12} median {statistics.median(values):8.2f}  ({each})"
                f"  x{statistics.median(ratios):.2f} of {names[0]}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = _parse(argv)
    common = shlex.split(args.common)
    variants = {}
    for spec in args.variants:
        name, _, rest = spec.partition("=")
        variants[name] = [*common, *shlex.split(rest)]
    runs: list[dict[str, dict[str, Any]]] = []
    loads = []
    with tempfile.TemporaryDirectory(prefix="openlines-pairs-") as tmp:
        for turn in range(args.rounds):
            loads.append(os.getloadavg())
            print(f"round {turn + 1}/{args.rounds}, load {loads[-1][0]:.1f} ...", file=sys.stderr)
            runs.append(_round(variants, turn, Path(tmp), args.in_turns))
    print(f"load average (1 min) at each round's start: {', '.join(f'{a:.1f}' for a, *_ in loads)}")
    print(_summary(runs, list(variants)))
    failed = [(n, r[n]["exit_status"]) for r in runs for n in r if r[n]["exit_status"] != 0]
    if failed:
        print(f"runs that did not answer every message or failed: {failed}")
    if args.json is not None:
        record = {"variants": variants, "loadavg": loads, "runs": runs}
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
