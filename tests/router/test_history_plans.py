"""The message path's statements on a database with history: SQLite's query plans, on a
pre-filled and analysed database, must search the stored messages and dialogs by an index that
pins what the statement wants, never walk them. A walk costs nothing on the small databases of
the other tests and grows with every stored message (docs/BENCHMARKS.md, *Processes and
history*)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis.asyncio
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.prefill import prefill, sqlite_path
from core import streams
from core.bus import Bus, Delivery
from core.db.schema import Dialog
from core.envelope import InboundMessage, OperatorReply, PresenceChange, RouterInput, utcnow
from operator_console.load.snapshot import read_load
from operator_console.stats.scope import EVERYTHING
from router.worker import Router
from tests.support.router_db import demo_ids, seeded_database

HISTORY_TABLES = ("messages", "dialogs", "clients", "client_identities", "dialog_offers")
"""The tables that grow with what the hub has stored."""

WALKED_INDEXES = ("ix_dialogs_line_opened", "ix_dialogs_operator_opened", "ix_dialogs_opened_at")
"""The statistics' date indexes: searched by line or operator alone they walk every dialog the
line or operator ever had, closed ones included."""

Executed = list[tuple[str, Any]]


@contextmanager
def record(engine: AsyncEngine) -> Iterator[Executed]:
    """The single (not ``executemany``) statements ``engine`` runs inside the block."""
    seen: Executed = []

    def log(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if not many:
            seen.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", log)


def walks(db: sqlite3.Connection, statement: str, params: Any) -> list[str]:
    """The steps of ``statement``'s plan that walk a history table."""
    plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", params or ())]
    return [
        step
        for step in plan
        if any(step.startswith(f"SCAN {table}") for table in HISTORY_TABLES)
        or any(index in step for index in WALKED_INDEXES)
    ]


def visitor(channel_id: int, n: int, text: str) -> Delivery[RouterInput]:
    msg = InboundMessage(
        channel_id=channel_id,
        external_user_id=f"visitor-{n}",
        external_message_id=f"{text}-{n}",
        client_msg_id=f"{text}-{n}",
        text=text,
        echo=True,
    )
    return Delivery(streams.inbound(0), f"{text}-{n}", msg)


@pytest.mark.parametrize("redis_server", ["6.2"], indirect=True)  # the plans are SQLite's
async def test_the_message_path_never_walks_the_history(sqlite_url: str, redis_url: str) -> None:
    engine, sessions = await seeded_database(sqlite_url)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        channel, admin = await demo_ids(sessions)
        prefill(sqlite_url, messages=20_000, open_dialogs=300, line_key="demo")
        router = Router(sessions, Bus(client), utcnow)
        with record(engine) as seen:
            await router.handle([visitor(channel, n, "hello") for n in range(4)])  # they wait
            online = PresenceChange(operator_id=admin, status="online")
            await router.handle([Delivery(streams.COMMANDS, "p", online)])  # takes the queue
            await router.handle([visitor(channel, n, "again") for n in range(4)])
            async with sessions() as session:
                ids = (
                    await session.scalars(
                        select(Dialog.id).where(
                            Dialog.status != "closed", Dialog.channel_id == channel
                        )
                    )
                ).all()
            replies = [
                OperatorReply(dialog_id=i, operator_id=admin, client_msg_id=f"r-{i}", text="hi")
                for i in ids
            ]
            await router.handle([Delivery(streams.COMMANDS, r.client_msg_id, r) for r in replies])
            async with sessions() as session:
                await read_load(session, utcnow(), EVERYTHING)
    finally:
        await client.aclose()
        await engine.dispose()
    db = sqlite3.connect(sqlite_path(sqlite_url))
    try:
        found = {
            " ".join(s.split())[:300]: w
            for s, p in seen
            if s.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH"))
            and (w := walks(db, s, p))
        }
    finally:
        db.close()
    assert len(seen) > 40 and len(ids) >= 4
    assert not found, "\n".join(f"{s}\n    {w}" for s, w in found.items())
