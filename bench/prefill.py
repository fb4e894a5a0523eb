"""History for the hub under test: stored messages and open dialogs, written in bulk into SQLite.

The hub's cost per message must not grow with what it has stored. To measure that, the
benchmark fills the migrated and seeded database (between the hub's first start and the warm
start it measures) with ``messages`` messages, ten per dialog, client and operator in turn:

* the closed dialogs are on the measured line and channel (``demo``), answered by the admin,
  so the router's and the console's lookups on that line meet a large table;
* ``open_dialogs`` of them stay open on a line of their own (``history``, with a disabled
  channel and twenty offline operators who hold them), so the tables and indexes the router
  reads hold that many open dialogs without them taking the measured line's queue or its
  operators' room.

Rows are made by the database itself (``INSERT … SELECT`` over a counter), like
``bench.stats_reports`` does, which writes a million messages in seconds; the search index is
rebuilt once at the end instead of row by row by its trigger, and merged into one segment. Then
``ANALYZE``, and the file is synced: the measured hub starts on a settled database, as one that
grew over months would be.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

MESSAGES_PER_DIALOG = 10
HISTORY_OPERATORS = 20
_COUNTER = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last}) "
# SQLAlchemy's SQLite DateTime text form; seconds back from now, so history is in the past.
_AGO = "strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || ({seconds}) || ' seconds') || '.000000'"


@dataclass(frozen=True)
class Filled:
    """What the pre-fill wrote and how long it took."""

    messages: int
    dialogs: int
    open_dialogs: int
    seconds: float


def sqlite_path(database_url: str) -> Path:
    """The file of a ``sqlite+aiosqlite:///PATH`` URL."""
    prefix = "sqlite+aiosqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError(f"the pre-fill writes SQLite only, not {database_url.split(':')[0]}")
    return Path(database_url.removeprefix(prefix))


def _next_id(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0])


def _one(db: sqlite3.Connection, sql: str, *params: object) -> int:
    row = db.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"the hub's database lacks what the pre-fill needs: {sql}")
    return int(row[0])


def _history_line(db: sqlite3.Connection) -> tuple[int, int, int]:
    """A line, a disabled channel and operators for the open dialogs; returns the line's id,
    the channel's id and the first operator's id (the others follow it)."""
    line = _next_id(db, "lines")
    channel = _next_id(db, "channels")
    first = _next_id(db, "operators")
    now = _AGO.format(seconds=0)
    db.execute(
        "INSERT INTO lines (id, key, name, language, timezone, distribution, settings,"
        f" created_at, source) VALUES (?, 'history', 'History', 'en', 'UTC', 'evenly', '{{}}',"
        f" {now}, 'bench')",
        (line,),
    )
    db.execute(
        "INSERT INTO channels (id, line_id, kind, key, name, config, enabled, created_at)"
        f" VALUES (?, ?, 'webchat', 'history', 'History', '{{}}', 0, {now})",
        (channel, line),
    )
    for n in range(HISTORY_OPERATORS):
        db.execute(
            "INSERT INTO operators (id, login, name, password_hash, role, status, created_at)"
            f" VALUES (?, ?, ?, '-', 'operator', 'offline', {now})",
            (first + n, f"history-op-{n + 1}", f"History operator {n + 1}"),
        )
        db.execute(
            "INSERT INTO line_operators (line_id, operator_id, position) VALUES (?, ?, ?)",
            (line, first + n, n),
        )
    return line, channel, first


def _dialogs(db: sqlite3.Connection, count: int, open_count: int, line_key: str) -> int:
    """Clients, identities and dialogs; returns the first dialog's id (the rest follow it)."""
    demo_line = _one(db, "SELECT id FROM lines WHERE key = ?", line_key)
    demo_channel = _one(db, "SELECT id FROM channels WHERE key = ?", line_key)
    admin = _one(db, "SELECT min(id) FROM operators WHERE role = 'admin'")
    line, channel, first_op = _history_line(db)
    client, identity, dialog = (
        _next_id(db, t) for t in ("clients", "client_identities", "dialogs")
    )
    counter = _COUNTER.format(last=count - 1)
    closed = count - open_count  # dialogs i < closed are closed on the measured line
    # Dialog i opened (count - i) minutes and five more ago; its ten messages are 30 s apart,
    # so the last one is in the past too.
    opened = _AGO.format(seconds=f"({count} - i) * 60 + 300")
    last = _AGO.format(seconds=f"({count} - i) * 60 + {300 - 30 * (MESSAGES_PER_DIALOG - 1)}")
    db.execute(
        counter + "INSERT INTO clients (id, name, created_at, updated_at)"
        f" SELECT {client} + i, 'History client ' || i, {opened}, {opened} FROM n"
    )
    db.execute(
        counter + "INSERT INTO client_identities"
        " (id, client_id, channel_id, external_id, display_name, created_at)"
        f" SELECT {identity} + i, {client} + i,"
        f" CASE WHEN i < {closed} THEN {demo_channel} ELSE {channel} END,"
        f" 'history-' || i, 'History client ' || i, {opened} FROM n"
    )
    half = MESSAGES_PER_DIALOG // 2
    db.execute(
        counter + "INSERT INTO dialogs (id, line_id, channel_id, client_id, identity_id,"
        " operator_id, status, opened_at, assigned_at, first_response_at, closed_at, closed_by,"
        " last_message_at, outcome, client_messages, operator_messages, offer_round)"
        f" SELECT {dialog} + i,"
        f" CASE WHEN i < {closed} THEN {demo_line} ELSE {line} END,"
        f" CASE WHEN i < {closed} THEN {demo_channel} ELSE {channel} END,"
        f" {client} + i, {identity} + i,"
        f" CASE WHEN i < {closed} THEN {admin} ELSE {first_op} + i % {HISTORY_OPERATORS} END,"
        f" CASE WHEN i < {closed} THEN 'closed' ELSE 'open' END, {opened}, {opened}, {opened},"
        f" CASE WHEN i < {closed} THEN {last} END,"
        f" CASE WHEN i < {closed} THEN 'operator' END, {last},"
        f" CASE WHEN i < {closed} THEN 'answered' END, {half}, {half}, 0 FROM n"
    )
    return dialog


def _messages(db: sqlite3.Connection, first_dialog: int, dialogs: int) -> None:
    """Ten messages per dialog, built from the dialogs; the search index rebuilt once after."""
    (trigger,) = db.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'messages_fts_insert'"
    ).fetchone()
    db.execute("DROP TRIGGER messages_fts_insert")
    first = _next_id(db, "messages")
    db.execute(
        _COUNTER.format(last=MESSAGES_PER_DIALOG - 1)
        + "INSERT INTO messages (id, dialog_id, channel_id, author, author_name, text,"
        " attachments, hidden, created_at)"
        f" SELECT {first} + (d.id - {first_dialog}) * {MESSAGES_PER_DIALOG} + n.i, d.id,"
        " d.channel_id, CASE n.i % 2 WHEN 0 THEN 'client' ELSE 'operator' END, '',"
        " 'history message ' || n.i, '[]', 0,"
        " strftime('%Y-%m-%d %H:%M:%S', d.opened_at, '+' || (30 * n.i) || ' seconds')"
        " || '.000000'"
        f" FROM dialogs d CROSS JOIN n WHERE d.id >= {first_dialog}"
        f" AND d.id < {first_dialog + dialogs} ORDER BY d.id, n.i"
    )
    db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    # A rebuild leaves the index in many small segments, which the hub's first inserts would
    # then merge, tens of milliseconds at a time; a database that grew row by row has merged
    # them as it went.
    db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('optimize')")
    db.execute(trigger)


def prefill(database_url: str, messages: int, open_dialogs: int, line_key: str) -> Filled:
    """Write the history into the hub's migrated, seeded SQLite database (hub stopped)."""
    began = time.perf_counter()
    dialogs = messages // MESSAGES_PER_DIALOG
    db = sqlite3.connect(sqlite_path(database_url))
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")  # a crash here only loses a throwaway database
        with db:
            first = _dialogs(db, dialogs, open_dialogs, line_key)
            _messages(db, first, dialogs)
        db.execute("ANALYZE")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    # Written without syncs: on disk now, or the hub's first checkpoint would sync the whole
    # history, a pause of a tenth of a second that a database which grew over time never has.
    with open(sqlite_path(database_url), "rb+") as written:
        os.fsync(written.fileno())
    return Filled(dialogs * MESSAGES_PER_DIALOG, dialogs, open_dialogs, time.perf_counter() - began)
