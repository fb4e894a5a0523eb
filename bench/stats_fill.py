"""The data set of the statistics benchmark (``bench.stats_reports``), written in bulk.

50 operators, 10 lines in five time zones (half of them with Monday-to-Friday working hours)
and one channel on each line, of five channel kinds; N dialogs spread over the year before
2026-11-01, ten messages each. Dialogs get a first response, a close, a rating and an
outcome in the proportions a busy help desk sees, drawn from one seeded ``random.Random``, so
that a seed gives the same dialogs on SQLite and PostgreSQL. The schema is made by the real
migrations; each dialog's stored figures are computed as the router computes them
(``core.dialog_figures``); the messages are made by the database from the dialogs
(``messages_sql``); the rollup is then filled from the dialogs as its migrations do.

SQLite: ``executemany`` in one connection, the search index rebuilt once at the end.
PostgreSQL: ``COPY`` into the tables stripped of their secondary indexes, unique constraints
and foreign keys, which are made again once the rows are in (``set_aside``).
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config.schedule import Schedule
from core.db import make_engine
from core.db.rollup import backfill, backfill_months
from core.dialog_figures import FIGURES, dialog_figures, line_schedule, line_zone

LINES, OPERATORS, MESSAGES_PER_DIALOG = 10, 50, 10
KINDS = ("telegram", "vk", "viber", "webchat", "email")
ZONES = ("Europe/Berlin", "UTC", "America/New_York", "Asia/Tokyo", "Europe/Moscow")
END = datetime(2026, 11, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
BATCH = 10_000
WEEKDAYS = {"schedule": {"week": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}}


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


LOADED = ("clients", "client_identities", "dialogs", "messages")
"""The tables the fill writes in bulk, which get their indexes and constraints back after."""

# The loaded tables' foreign keys (step 0), other constraints but the primary key (1) and the
# indexes that back no constraint (2): how to drop each one and how to make it again.
_SET_ASIDE = """
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop,
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
              pg_get_constraintdef(oid)) AS make,
       CASE contype WHEN 'f' THEN 0 ELSE 1 END AS step
  FROM pg_constraint
 WHERE conrelid::regclass::text = ANY($1::text[]) AND contype <> 'p'
UNION ALL
SELECT format('DROP INDEX %s', indexrelid::regclass), pg_get_indexdef(indexrelid), 2
  FROM pg_index i
 WHERE indrelid::regclass::text = ANY($1::text[]) AND NOT indisprimary
   AND NOT EXISTS (SELECT FROM pg_constraint c
                    WHERE c.conrelid = i.indrelid AND c.conindid = i.indexrelid)
 ORDER BY step
"""


async def set_aside(conn: Any, tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' foreign keys, unique constraints and secondary indexes; return the
    statements that make them again, indexes first and foreign keys last.

    Loaded with them, every row costs a lookup per foreign key and an insert into each of
    two dozen B-trees and two GIN indexes, at random places once they outgrow the cache;
    built after the load, each index is one sort and each foreign key one join that checks
    every row as before.
    """
    rows = await conn.fetch(_SET_ASIDE, list(tables))
    for row in rows:
        await conn.execute(row["drop"])
    return [row["make"] for row in reversed(rows)]


async def fill_postgres(url: str, count: int, seed: int) -> None:
    """Write the data set into the migrated PostgreSQL database: COPY of the generated rows
    and ``INSERT … SELECT`` of the messages into bare tables, then their indexes and
    constraints, the id sequences, and ``VACUUM ANALYZE``."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            conn: Any = raw.driver_connection  # asyncpg's connection, for COPY
            # This session's sorts (the messages in order, the index builds) in memory; the
            # timed queries run on other sessions, with the server's settings.
            await conn.execute("SET maintenance_work_mem = '1GB'; SET work_mem = '256MB'")
            with _step("set aside the indexes and constraints"):
                restore = await set_aside(conn, LOADED)
            with _step("COPY of the clients, identities and dialogs"):
                for batch in (people(), *dialog_rows(count, seed)):
                    for table, rows in batch.items():
                        columns = [c.strip() for c in COLUMNS[table].split(",")]
                        records = [tuple(_copy_value(v) for v in row) for row in rows]
                        await conn.copy_records_to_table(table, records=records, columns=columns)
            with _step("messages made from the dialogs"):
                await conn.execute(messages_sql("postgresql"))
            with _step("indexes and constraints made again"):
                for statement in restore:
                    await conn.execute(statement)
            for table in LOADED:
                highest = f"(SELECT max(id) FROM {table})"
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {highest})"
                )
            # As autovacuum leaves a table that has settled: the visibility map set, so that
            # the covering index of the statistics is read without visiting the rows.
            with _step("VACUUM ANALYZE"):
                await conn.execute("VACUUM ANALYZE")
    finally:
        await engine.dispose()


@contextmanager
def _step(what: str) -> Iterator[None]:
    """Print how long a step of the fill took (a fill that takes minutes shows where)."""
    started = time.perf_counter()
    yield
    print(f"  {what}: {time.perf_counter() - started:.1f} s", flush=True)


def _copy_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value


async def fill_rollup(url: str) -> None:
    """Fill the statistics' rollup from the loaded dialogs, as migrations 0018 (by day) and
    0022 (first responses by month) do: the bulk load bypassed the hub session that keeps it.
    Then analyze it."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(backfill)
            await connection.run_sync(backfill_months)
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
