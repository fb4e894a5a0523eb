"""Statistics on SQLite and PostgreSQL: fill N dialogs, then time every statistics query.

```sh
.venv/bin/python -m bench.stats_reports                      # 1 000 000 dialogs, 10 M messages
.venv/bin/python -m bench.stats_reports --dialogs 20000      # a smaller run
.venv/bin/python -m bench.stats_reports --only sqlite        # one database
.venv/bin/python -m bench.stats_reports --only sqlite --keep-db stats.db  # fill once, reuse
.venv/bin/python -m bench.stats_reports --only postgresql --keep-pg /var/tmp/stats-pg  # idem
.venv/bin/python -m bench.stats_reports --postgres-url postgresql+asyncpg://u:p@host/db
```

The data and how it is written: ``bench.stats_fill`` (the same dialogs on both databases for
a seed). After the fill, ``ANALYZE`` (``VACUUM ANALYZE`` on PostgreSQL, so that index-only
scans need not visit the rows, as on a settled table).

Timed, with the code the endpoints run (``operator_console.stats``) and an admin's scope: the
dialog report's first page with each filter, the summary of one month and of one year, the
daily chart of a month, the heatmap of the year, and a full CSV export (rows per second). Each
query runs ``--repeats`` times; the median is printed. Without ``--postgres-url`` a throwaway
PostgreSQL cluster is started (the test suite's, so the server binaries must be installed);
with ``--keep-pg DIR`` that cluster lives in DIR and outlives the run. A PostgreSQL database
that a complete fill marked (a comment on the database naming the dialogs and the seed) is
reused without filling it again.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.procs import tree_cpu_seconds
from bench.stats_fill import fill_postgres, fill_rollup, fill_sqlite
from core.db import make_engine, make_sessionmaker, upgrade
from operator_console.stats.charts import daily, heatmap
from operator_console.stats.dialogs import select_dialogs
from operator_console.stats.export import csv_batches
from operator_console.stats.filters import ReportQuery, StatsFilters, SummaryQuery
from operator_console.stats.report import report_page
from operator_console.stats.scope import EVERYTHING
from operator_console.stats.summary import summary

BENCH_DATABASE = "bench_stats"
FILLED = "bench.stats_reports: {dialogs} dialogs, seed {seed}"
"""The comment a complete fill leaves on its PostgreSQL database."""

FILTERS: list[tuple[str, dict[str, Any]]] = [
    ("no filter", {}),
    ("line", {"line_id": 3}),
    ("channel", {"channel_id": 4}),
    ("operator", {"operator_id": 17}),
    ("status", {"status": "open"}),
    ("in hours", {"in_hours": "false"}),
    ("outcome", {"outcome": "missed"}),
    ("rating range", {"rating_min": 1, "rating_max": 2}),
    ("one month", {"from": "2026-09-01", "to": "2026-09-30"}),
    ("sort by first response", {"sort": "first_response_s"}),
    ("sort by rating, ascending", {"sort": "rating", "order": "asc"}),
]
MONTH = {"from": "2026-09-01", "to": "2026-09-30"}
WHOLE_YEAR = {"from": "2025-11-01", "to": "2026-10-31"}


Clock = Callable[[], float]
"""Seconds of CPU a database server has used so far (the cluster the benchmark started)."""


@dataclass(frozen=True)
class Medians:
    """Median seconds of a query: wall, CPU of this process, CPU of the server if known."""

    wall: float
    here: float
    server: float | None

    def cpu(self, scale: float, unit: str) -> str:
        """The two CPU figures in ``unit`` (``scale`` per second)."""
        server = "" if self.server is None else f", server {self.server * scale:.1f} {unit}"
        return f"CPU here {self.here * scale:.1f} {unit}{server}"


async def _median(repeats: int, run: Callable[[], Awaitable[Any]], server: Clock | None) -> Medians:
    """The medians of ``repeats`` runs. The CPU time of this process is the query's own work
    on SQLite, and the server's (backends and parallel workers) is on PostgreSQL, whatever
    else the machine is busy with; the wall time is not."""
    seconds, here, there = [], [], []
    for _ in range(repeats):
        server_before = server() if server else 0.0
        started, used = time.perf_counter(), time.process_time()
        await run()
        seconds.append(time.perf_counter() - started)
        here.append(time.process_time() - used)
        there.append(server() - server_before if server else 0.0)
    median = statistics.median
    return Medians(median(seconds), median(here), median(there) if server else None)


async def time_queries(
    url: str, repeats: int, server: Clock | None = None
) -> list[tuple[str, str]]:
    """(what, median) for every statistics query, and the CSV export's rate."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    out: list[tuple[str, str]] = []

    async def timed(label: str, model: type[StatsFilters], raw: dict[str, Any], act: Any) -> None:
        query = model.model_validate(raw)

        async def run() -> None:
            async with sessions() as session:
                await act(session, await select_dialogs(session, query, EVERYTHING), query)

        took = await _median(repeats, run, server)
        out.append((label, f"{took.wall * 1000:10.1f} ms ({took.cpu(1000, 'ms')})"))
        print(f"  {label:44} {out[-1][1]}", flush=True)  # a run cut short keeps its figures

    try:
        for label, raw in FILTERS:
            await timed(f"report page 1: {label}", ReportQuery, raw, report_page)
        for label, raw in (("month", MONTH), ("year", WHOLE_YEAR)):
            await timed(f"summary of a {label}", SummaryQuery, raw, summary)
            business = {**raw, "business_time": "true"}
            await timed(f"summary of a {label}, business time", SummaryQuery, business, summary)
        await timed("daily chart of a month", StatsFilters, MONTH, lambda s, sel, q: daily(s, sel))
        await timed(
            "heatmap of the year", StatsFilters, WHOLE_YEAR, lambda s, sel, q: heatmap(s, sel)
        )
        out.append(("CSV export, every row", await _export_rate(sessions, repeats, server)))
        print(f"  {out[-1][0]:44} {out[-1][1]}", flush=True)
    finally:
        await engine.dispose()
    return out


async def _export_rate(sessions: Any, repeats: int, server: Clock | None) -> str:
    query = ReportQuery.model_validate({})
    rows = 0

    async def export() -> None:
        nonlocal rows
        size = 0
        async with sessions() as session:
            selection = await select_dialogs(session, query, EVERYTHING)
            async for chunk in csv_batches(session, selection, query):
                size += chunk.count(b"\n")
        rows = size - 1  # the header

    took = await _median(repeats, export, server)
    return (
        f"{rows / took.wall:10,.0f} rows/s ({rows} rows in {took.wall:.1f} s, {took.cpu(1, 's')})"
    )


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()


def run_sqlite(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str]]:
    path = Path(args.keep_db) if args.keep_db else tmp / "stats.db"
    if path.exists():
        # A file filled by an earlier run: only the migrations added since then are applied
        # (each fills what it adds from the dialogs already there).
        started = time.perf_counter()
        asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
        print(f"sqlite: reused {path}, migrated in {time.perf_counter() - started:.1f} s")
    else:
        _fill_sqlite_file(path, args)
    return asyncio.run(time_queries(f"sqlite+aiosqlite:///{path}", args.repeats))


def _fill_sqlite_file(path: Path, args: argparse.Namespace) -> None:
    """Migrate and fill a new file; it takes the final name only once complete, so that an
    interrupted fill is never reused."""
    part = path.with_name(path.name + ".part")
    for leftover in (part, *(part.with_name(part.name + s) for s in ("-wal", "-shm"))):
        leftover.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{part}"
    asyncio.run(_migrate(url))
    started = time.perf_counter()
    fill_sqlite(part, args.dialogs, args.seed)
    print(f"sqlite: filled {args.dialogs} dialogs in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    asyncio.run(fill_rollup(url))
    print(f"sqlite: filled the rollup in {time.perf_counter() - started:.1f} s", flush=True)
    part.rename(path)


def run_postgres(args: argparse.Namespace) -> list[tuple[str, str]]:
    if args.postgres_url:
        return _postgres_at(args.postgres_url, args)
    from tests.support.servers import PostgresCluster

    kept = Path(args.keep_pg).resolve() if args.keep_pg else None
    with PostgresCluster(directory=kept) as cluster:
        mark = asyncio.run(_fill_mark(cluster.url("postgres"), BENCH_DATABASE))
        if mark != FILLED.format(dialogs=args.dialogs, seed=args.seed):
            # Another fill, or one cut short: filled again from nothing.
            asyncio.run(cluster.drop_database(BENCH_DATABASE))
            asyncio.run(cluster.create_database(BENCH_DATABASE))
        pid = cluster.pid
        assert pid is not None  # started
        return _postgres_at(cluster.url(BENCH_DATABASE), args, lambda: tree_cpu_seconds(pid))


def _postgres_at(
    url: str, args: argparse.Namespace, server: Clock | None = None
) -> list[tuple[str, str]]:
    wanted = FILLED.format(dialogs=args.dialogs, seed=args.seed)
    mark = asyncio.run(_fill_mark(url))
    started = time.perf_counter()
    asyncio.run(_migrate(url))
    if mark == wanted:
        # Only the migrations added since the fill are applied (each fills what it adds).
        print(f"postgresql: reused ({mark}), migrated in {time.perf_counter() - started:.1f} s")
        return asyncio.run(time_queries(url, args.repeats, server))
    if mark is not None:
        raise SystemExit(f"postgresql: the database holds another fill ({mark}); give an empty one")
    started = time.perf_counter()
    asyncio.run(fill_postgres(url, args.dialogs, args.seed))
    print(f"postgresql: filled {args.dialogs} dialogs in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    asyncio.run(fill_rollup(url))
    print(f"postgresql: filled the rollup in {time.perf_counter() - started:.1f} s", flush=True)
    asyncio.run(_mark_filled(url, wanted))
    return asyncio.run(time_queries(url, args.repeats, server))


_MARK = "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = "


async def _fill_mark(url: str, database: str | None = None) -> str | None:
    """The fill's comment on ``database`` (by default the one ``url`` names), if any."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            where = "current_database()" if database is None else ":database"
            found = await connection.scalar(text(_MARK + where), {"database": database})
            return str(found) if found is not None else None
    finally:
        await engine.dispose()


async def _mark_filled(url: str, mark: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            name = await connection.scalar(text("SELECT quote_ident(current_database())"))
            await connection.execute(text(f"COMMENT ON DATABASE {name} IS '{mark}'"))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Fill, time, print a table per database."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dialogs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres-url",
        help="an empty PostgreSQL database (asyncpg URL), or one an earlier run filled",
    )
    parser.add_argument(
        "--keep-pg",
        metavar="DIR",
        help="directory of the PostgreSQL cluster to start, keep and reuse (else a throwaway one)",
    )
    parser.add_argument(
        "--keep-db",
        metavar="PATH",
        help="SQLite file to fill and keep, or, if it exists, to reuse without filling again",
    )
    args = parser.parse_args(argv)
    results: dict[str, list[tuple[str, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "sqlite"):
            results["sqlite"] = run_sqlite(args, Path(tmp))
    if args.only in (None, "postgresql"):
        results["postgresql"] = run_postgres(args)
    for database, rows in results.items():
        print(f"\n{database}, {args.dialogs} dialogs, median of {args.repeats}")
        for label, figure in rows:
            print(f"  {label:44} {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
