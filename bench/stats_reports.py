"""Statistics on SQLite and PostgreSQL: fill N dialogs, then time every statistics query.

```sh
.venv/bin/python -m bench.stats_reports                      # 1 000 000 dialogs, 10 M messages
.venv/bin/python -m bench.stats_reports --dialogs 20000      # a smaller run
.venv/bin/python -m bench.stats_reports --only sqlite        # one database
.venv/bin/python -m bench.stats_reports --only sqlite --keep-db stats.db  # fill once, reuse
.venv/bin/python -m bench.stats_reports --postgres-url postgresql+asyncpg://u:p@host/db
```

The data: 50 operators, 10 lines in five time zones (half of them with Monday-to-Friday
working hours) and one channel on each line, of five channel kinds; N dialogs spread over
the year before 2026-11-01, ten messages each. Dialogs get a first response, a close, a rating
and an outcome in the proportions a busy help desk sees. The schema is made by the real
migrations (with the statistics indexes of 0010 and 0012); each dialog's stored figures are
computed as the router computes them (``core.dialog_figures``); rows are written in bulk
(``executemany`` on SQLite, ``COPY`` on PostgreSQL), then ``ANALYZE`` (``VACUUM ANALYZE`` on
PostgreSQL, so that index-only scans need not visit the rows, as on a settled table).

Timed, with the code the endpoints run (``operator_console.stats``) and an admin's scope: the
dialog report's first page with each filter, the summary of one month and of one year, the
daily chart of a month, the heatmap of the year, and a full CSV export (rows per second). Each
query runs ``--repeats`` times; the median is printed. Without ``--postgres-url`` a throwaway
PostgreSQL cluster is started (the test suite's, so the server binaries must be installed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config.schedule import Schedule
from core.db import make_engine, make_sessionmaker, upgrade
from core.db.rollup import backfill
from core.dialog_figures import FIGURES, dialog_figures, line_schedule, line_zone
from operator_console.stats.charts import daily, heatmap
from operator_console.stats.dialogs import select_dialogs
from operator_console.stats.export import csv_batches
from operator_console.stats.filters import ReportQuery, StatsFilters, SummaryQuery
from operator_console.stats.report import report_page
from operator_console.stats.scope import EVERYTHING
from operator_console.stats.summary import summary

LINES, OPERATORS, MESSAGES_PER_DIALOG = 10, 50, 10
KINDS = ("telegram", "vk", "viber", "webchat", "email")
ZONES = ("Europe/Berlin", "UTC", "America/New_York", "Asia/Tokyo", "Europe/Moscow")
END = datetime(2026, 11, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
BATCH = 10_000
WEEKDAYS = {"schedule": {"week": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}}

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


def people() -> dict[str, list[tuple[Any, ...]]]:
    """Lines, channels, operators and queue places."""
    now = END
    lines = [
        (
            n,
            f"l{n}",
            f"Line {n}",
            "en",
            ZONES[n % 5],
            "evenly",
            WEEKDAYS if n % 2 else {},
            now,
            "bench",
        )
        for n in range(1, LINES + 1)
    ]
    channels: list[tuple[Any, ...]] = [
        (n, n, KINDS[n % 5], f"c{n}", f"Channel {n}", {}, False, now) for n in range(1, LINES + 1)
    ]
    operators = [
        (n, f"op{n}", f"Operator {n}", "-", "operator", "offline", now)
        for n in range(1, OPERATORS + 1)
    ]
    places = [((n - 1) % LINES + 1, n, 0) for n in range(1, OPERATORS + 1)]
    return {"lines": lines, "channels": channels, "operators": operators, "line_operators": places}


COLUMNS = {
    "lines": "id, key, name, language, timezone, distribution, settings, created_at, source",
    "channels": "id, line_id, kind, key, name, config, enabled, created_at",
    "operators": "id, login, name, password_hash, role, status, created_at",
    "line_operators": "line_id, operator_id, position",
    "clients": "id, name, created_at, updated_at",
    "client_identities": "id, client_id, channel_id, external_id, display_name, created_at",
    "dialogs": "id, line_id, channel_id, client_id, identity_id, operator_id, status, opened_at,"
    " first_response_at, closed_at, closed_by, last_message_at, began_in_hours, outcome, rating,"
    " client_messages, operator_messages, offer_round, " + ", ".join(FIGURES),
    "messages": "id, dialog_id, channel_id, author, author_name, text, attachments, hidden,"
    " created_at",
}


def _line_clocks() -> dict[int, tuple[ZoneInfo, Schedule | None]]:
    """Each line's zone and working hours, for the figures the router would store."""
    out = {}
    for line_id, *_rest, zone_name, _mode, settings, _at, _source in people()["lines"]:
        zone = line_zone(line_id, zone_name)
        out[line_id] = (zone, line_schedule(settings, zone))
    return out


def dialog_rows(count: int, seed: int) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """Batches of clients, identities and dialogs (their messages are made by the database
    from the dialogs: ``MESSAGES_SQL``)."""
    rng = random.Random(seed)
    batch: dict[str, list[tuple[Any, ...]]] = {
        k: [] for k in ("clients", "client_identities", "dialogs")
    }
    clocks = _line_clocks()
    for d in range(1, count + 1):
        line = rng.randint(1, LINES)
        opened = END - YEAR * rng.random()
        answered = rng.random() < 0.85
        first = opened + timedelta(seconds=rng.expovariate(1 / 120)) if answered else None
        closed = (
            opened + timedelta(seconds=rng.expovariate(1 / 1800)) if rng.random() < 0.9 else None
        )
        status = "closed" if closed else rng.choice(["open", "waiting"])
        outcome = (
            ("answered" if answered else rng.choice(["missed", "client_left", "out_of_hours"]))
            if closed
            else None
        )
        rating = rng.choice([None, None, 1, 2, 3, 4, 5, 5]) if closed else None
        operator = None if not answered else line + LINES * rng.randint(0, OPERATORS // LINES - 1)
        last = closed or first or opened
        batch["clients"].append((d, f"Client {d}", opened, opened))
        batch["client_identities"].append((d, d, line, f"u{d}", f"Client {d}", opened))
        batch["dialogs"].append(
            (
                d,
                line,
                line,
                d,
                d,
                operator,
                status,
                opened,
                first,
                closed,
                rng.choice(["client", "operator", "auto"]) if closed else None,
                last,
                rng.random() < 0.7,
                outcome,
                rating,
                6,
                4,
                0,
                *dialog_figures(opened, first, closed, *clocks[line]),
            )
        )
        if len(batch["dialogs"]) >= BATCH:
            yield batch
            batch = {k: [] for k in batch}
    yield batch


# Ten messages per dialog, client and operator in turn, thirty seconds apart: made by the
# database from the dialogs (ids in dialog order), which is far quicker than sending them.
_MESSAGE_VALUES = {
    "sqlite": "(d.id - 1) * {n} + m.n + 1, d.id, d.channel_id,"
    " CASE m.n % 2 WHEN 0 THEN 'client' ELSE 'operator' END, '', 'message ' || m.n, '[]', 0,"
    " strftime('%Y-%m-%d %H:%M:%S', d.opened_at, '+' || (30 * m.n) || ' seconds')"
    " || substr(d.opened_at, 20)",
    "postgresql": "(d.id - 1) * {n} + m.n + 1, d.id, d.channel_id,"
    " CASE m.n % 2 WHEN 0 THEN 'client' ELSE 'operator' END, '', 'message ' || m.n, '[]', false,"
    " d.opened_at + m.n * interval '30 seconds'",
}
_SERIES = {
    "sqlite": "WITH RECURSIVE m(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM m WHERE n < {last})",
    "postgresql": "WITH m(n) AS (SELECT generate_series(0, {last}))",
}


def messages_sql(dialect: str) -> str:
    """The statement that writes every dialog's messages."""
    values = _MESSAGE_VALUES[dialect].format(n=MESSAGES_PER_DIALOG)
    series = _SERIES[dialect].format(last=MESSAGES_PER_DIALOG - 1)
    return (
        f"{series} INSERT INTO messages ({COLUMNS['messages']})"
        f" SELECT {values} FROM dialogs d CROSS JOIN m ORDER BY d.id, m.n"
    )


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def fill_sqlite(path: Path, count: int, seed: int) -> None:
    """Write the data set into the migrated SQLite file."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    for batch in (people(), *dialog_rows(count, seed)):
        for table, rows in batch.items():
            marks = ", ".join("?" * len(COLUMNS[table].split(",")))
            sql = f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})"
            db.executemany(sql, [tuple(_sqlite_value(v) for v in row) for row in rows])
        db.commit()
    # The search index is filled once at the end rather than row by row by its trigger.
    (trigger,) = db.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'messages_fts_insert'"
    ).fetchone()
    db.execute("DROP TRIGGER messages_fts_insert")
    db.execute(messages_sql("sqlite"))
    db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    db.execute(trigger)
    db.commit()
    db.execute("ANALYZE")
    db.close()


async def fill_postgres(url: str, count: int, seed: int) -> None:
    """Write the data set into the migrated PostgreSQL database with COPY."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            conn: Any = raw.driver_connection  # asyncpg's connection, for COPY
            for batch in (people(), *dialog_rows(count, seed)):
                for table, rows in batch.items():
                    columns = [c.strip() for c in COLUMNS[table].split(",")]
                    records = [tuple(_copy_value(v) for v in row) for row in rows]
                    await conn.copy_records_to_table(table, records=records, columns=columns)
            # The search index is built once at the end rather than entry by entry.
            search = await conn.fetchval(
                "SELECT pg_get_indexdef('ix_messages_text_search'::regclass)"
            )
            await conn.execute("DROP INDEX ix_messages_text_search")
            await conn.execute(messages_sql("postgresql"))
            await conn.execute(search)
            for table in ("clients", "client_identities", "dialogs", "messages"):
                highest = f"(SELECT max(id) FROM {table})"
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {highest})"
                )
            # As autovacuum leaves a table that has settled: the visibility map set, so that
            # the covering index of the statistics is read without visiting the rows.
            await conn.execute("VACUUM ANALYZE")
    finally:
        await engine.dispose()


def _copy_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value


async def _median(repeats: int, run: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """The median wall time and the median CPU time of this process (on SQLite that is the
    query's own work, whatever else the machine is busy with)."""
    seconds, cpu = [], []
    for _ in range(repeats):
        started, used = time.perf_counter(), time.process_time()
        await run()
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    return statistics.median(seconds), statistics.median(cpu)


async def time_queries(url: str, repeats: int) -> list[tuple[str, str]]:
    """(what, median) for every statistics query, and the CSV export's rate."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    out: list[tuple[str, str]] = []

    async def timed(label: str, model: type[StatsFilters], raw: dict[str, Any], act: Any) -> None:
        query = model.model_validate(raw)

        async def run() -> None:
            async with sessions() as session:
                await act(session, await select_dialogs(session, query, EVERYTHING), query)

        wall, cpu = await _median(repeats, run)
        out.append((label, f"{wall * 1000:10.1f} ms (CPU here {cpu * 1000:.1f} ms)"))
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
        out.append(("CSV export, every row", await _export_rate(sessions)))
    finally:
        await engine.dispose()
    return out


async def _export_rate(sessions: Any) -> str:
    query = ReportQuery.model_validate({})
    size = 0
    started, used = time.perf_counter(), time.process_time()
    async with sessions() as session:
        selection = await select_dialogs(session, query, EVERYTHING)
        async for chunk in csv_batches(session, selection, query):
            size += chunk.count(b"\n")
    rows = size - 1  # the header
    seconds, cpu = time.perf_counter() - started, time.process_time() - used
    return f"{rows / seconds:10,.0f} rows/s ({rows} rows in {seconds:.1f} s, CPU here {cpu:.1f} s)"


async def fill_rollup(url: str) -> None:
    """Fill the statistics' daily rollup from the loaded dialogs, as migration 0018 does (the
    bulk load bypassed the hub session that keeps it), then analyze it."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(backfill)
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()


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

    with PostgresCluster() as cluster:
        url = asyncio.run(cluster.create_database("bench_stats"))
        return _postgres_at(url, args)


def _postgres_at(url: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    asyncio.run(_migrate(url))
    started = time.perf_counter()
    asyncio.run(fill_postgres(url, args.dialogs, args.seed))
    print(f"postgresql: filled {args.dialogs} dialogs in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    asyncio.run(fill_rollup(url))
    print(f"postgresql: filled the rollup in {time.perf_counter() - started:.1f} s", flush=True)
    return asyncio.run(time_queries(url, args.repeats))


def main(argv: list[str] | None = None) -> int:
    """Fill, time, print a table per database."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dialogs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--postgres-url", help="an empty PostgreSQL database (asyncpg URL)")
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
