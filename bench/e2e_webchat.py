"""End-to-end benchmark of the web chat, beside a bare Redis Streams baseline.

    python -m bench.e2e_webchat [--visitors N] [--messages M] [--operators K] [--quick]

One run starts its own Redis on a free loopback port, measures the bare Streams pipeline on
it, starts the hub (``openlines run``) on that Redis with a fresh SQLite database (or the
PostgreSQL given by ``--database-url``, or one it starts itself with ``--postgres``), drives
N visitors and K operators through the real sockets and REST API, stops the hub, measures the
baseline again, stops Redis, and prints a table (and JSON with ``--json``). Everything it
starts is stopped on the way out, Ctrl-C included. See bench/README.md for what is measured
and how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
import uvloop
from redis.utils import HIREDIS_AVAILABLE

from bench import hubs, router_figures
from bench.baseline import BaselineResult, run_baseline
from bench.console_tab import ConsoleTab, figures
from bench.e2e_args import parse_args
from bench.e2e_report import Report, finite, table
from bench.hubs import Hub
from bench.open_loop import run_open_loop
from bench.operators import add_operators
from bench.prefill import prefill
from bench.procs import (
    Child,
    barrier,
    cpu_seconds,
    find_redis_server,
    free_port,
    self_cpu_seconds,
    start_postgres,
    start_redis,
    tree_cpu_seconds,
    wait_redis,
)
from bench.router_figures import RouterFigures
from bench.thread_schedule import ThreadSchedule, main_thread
from bench.webchat_load import run_load

if TYPE_CHECKING:
    from tests.support.servers import PostgresCluster

CHANNEL = "demo"
"""The web-chat channel and line the hub seeds on first start."""
ADMIN = "admin"


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
    database_url: str,
    admin_password: str,
    hub: Hub,
    redis: Child,
    redis_url: str,
    report: Report,
    postgres_pid: int | None = None,
) -> None:
    staff = [(ADMIN, admin_password)]
    staff += await add_operators(database_url, args.operators - 1, CHANNEL)
    marks: dict[str, dict[str, float]] = {}
    stats = aioredis.from_url(redis_url)
    routed: dict[str, RouterFigures] = {}
    visitors, desk = hub.visitor_base, hub.operator_base
    tab = await ConsoleTab.open(desk, ADMIN, admin_password) if args.console_tab else None
    seen: dict[str, dict[str, float]] = {}
    scheduled: dict[str, ThreadSchedule | None] = {}

    async def mark(name: str) -> None:
        # The scrape itself costs the hub CPU: read before the start's figures and after the
        # end's, it stays out of the measurement.
        if name == "start":
            routed[name] = await router_figures.read(hub.router_bases)
        if tab is not None:
            seen[name] = await tab.counters()
        marks[name] = {
            "wall": time.perf_counter(),
            "redis": cpu_seconds(redis.pid),
            "bench": self_cpu_seconds(),
        } | hub.cpu_seconds()
        scheduled[name] = main_thread(hub.router_pid)
        if postgres_pid is not None:
            marks[name]["postgres"] = tree_cpu_seconds(postgres_pid)
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
            routed[name] = await router_figures.read(hub.router_bases)

    try:
        if args.rate is None:
            report.load = await run_load(
                visitors,
                CHANNEL,
                args.visitors,
                args.messages,
                staff,
                args.msg_timeout,
                args.max_seconds,
                on_phase=mark,
                operator_base=desk,
                replies=args.replies,
            )
        else:
            report.load = await run_open_loop(
                visitors,
                CHANNEL,
                args.visitors,
                args.rate,
                args.duration,
                staff,
                args.drain,
                mark,
                operator_base=desk,
                burst=args.burst,
                replies=args.replies,
            )
        if tab is not None and "end" in seen:
            report.console_tab = figures(seen["start"], seen["end"])
            await tab.draws(report.console_tab)
    finally:
        await stats.aclose()
        if tab is not None:
            await tab.close()
    if "start" in marks and "end" in marks:
        report.cpu = {k: marks["end"][k] - marks["start"][k] for k in marks["start"]}
        report.router = routed["end"].since(routed["start"])
        before, after = scheduled["start"], scheduled["end"]
        if before is not None and after is not None:
            report.router_thread = after.since(before)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    names = ["visitors", "messages", "operators", "quick", "msg_timeout", "rate", "duration"]
    names += ["burst", "replies", "console_tab"]
    names += ["baseline_messages", "baseline_single_messages", "roles", "routers"]
    names += ["console_workers"]
    names += ["prefill_messages", "prefill_open_dialogs", "postgres", "hub_cpus"]
    return {k: getattr(args, k) for k in names}


def _start_measured(
    args: argparse.Namespace,
    tmp: Path,
    redis_url: str,
    database_url: str,
    admin_password: str,
    children: list[Child],
    report: Report,
) -> Hub:
    """First start in one process on the empty database (migrations, seeding), the pre-fill if
    asked for, then the warm start of the measured layout, and its idle figures."""
    at = (tmp, redis_url, database_url, admin_password, children)
    first = hubs.start("one", 1, args.hub_log_level, *at)
    report.startup["first_start_s"] = first.started_s
    for line in first.stop(children):
        print(line, file=sys.stderr)
    if args.prefill_messages:
        print(f"pre-filling {args.prefill_messages:,} messages ...", file=sys.stderr, flush=True)
        filled = prefill(database_url, args.prefill_messages, args.prefill_open_dialogs, CHANNEL)
        report.prefill = asdict(filled)
    warm = hubs.start(args.roles, args.routers, args.hub_log_level, *at, cpus=args.hub_cpus,
                      console_workers=args.console_workers)  # fmt: skip
    report.startup["warm_start_s"] = warm.started_s
    report.startup |= hubs.idle(warm)
    return warm


def run(args: argparse.Namespace) -> Report:
    """One full run; every process it started is stopped before it returns or raises."""
    tmp = Path(tempfile.mkdtemp(prefix="openlines-bench-"))
    children: list[Child] = []
    profiler: subprocess.Popen[bytes] | None = None
    cluster: PostgresCluster | None = None
    try:
        binary = find_redis_server(args.redis_server)
        redis_port = free_port()
        redis = start_redis(binary, tmp / "redis", redis_port)
        children.append(redis)
        wait_redis(redis, redis_port)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        database_url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'hub' / 'openlines.db'}"
        if args.postgres:
            cluster, database_url = start_postgres()
        report = Report(
            environment=environment(
                binary,
                asyncio.run(_redis_version(redis_url)),
                asyncio.run(_database_kind(database_url)),
            ),
            settings=_settings(args),
        )
        print("baseline (before the hub) ...", file=sys.stderr, flush=True)
        report.baselines += asyncio.run(_baseline_round(args, redis_url))
        admin_password = secrets.token_urlsafe(16)
        (tmp / "hub").mkdir()
        print("starting the hub (empty database, then a warm start) ...", file=sys.stderr)
        hub = _start_measured(args, tmp, redis_url, database_url, admin_password, children, report)
        if args.profile_hub is not None:
            profiler = _start_profiler(hub.router_pid, args.profile_hub.resolve())
        shape = (
            f"{args.messages} messages each"
            if args.rate is None
            else f"open loop at {args.rate:g} msg/s for {args.duration:g} s"
            + (f", {args.burst} new dialogs in one second" if args.burst else "")
        )
        print(
            f"end to end: {args.visitors} visitors, {shape}, {args.operators} operators, "
            f"{len(hub.processes)} hub process(es) ...",
            file=sys.stderr,
            flush=True,
        )
        if args.barrier:
            barrier(args.barrier)
        pg_pid = None if cluster is None else cluster.pid
        # The load on uvloop, as the hub runs: its clients share the machine with the hub they
        # measure, and on asyncio's own loop they took a third of a core at 600 msg/s.
        uvloop.run(_e2e(args, database_url, admin_password, hub, redis, redis_url, report, pg_pid))
        _stop_profiler(profiler)
        for line in hub.stop(children):
            print(line, file=sys.stderr)
        print("baseline (after the hub) ...", file=sys.stderr, flush=True)
        report.baselines += asyncio.run(_baseline_round(args, redis_url))
        return report
    except Exception:
        # A failure, not a Ctrl-C: the hub's last words usually say what went wrong.
        for child in children:
            if child.name.startswith("hub"):
                print(f"--- last lines of {child.name}'s log ---\n{child.tail()}", file=sys.stderr)
        raise
    finally:
        _stop_profiler(profiler)
        for child in reversed(children):  # the hub before the Redis it uses
            child.stop()
        if cluster is not None:
            cluster.stop()
        if args.keep:
            print(f"bench: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


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
        args.json.write_text(json.dumps(finite(report.as_dict()), indent=2, default=str) + "\n")
    if report.load is not None and (report.load.errors or report.load.replied < report.load.sent):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
