"""The figures read when Prometheus scrapes: streams and their consumer groups, dialogs waiting,
operators online, the database pool.

A scrape costs one Redis pipeline over the hub's known streams (never a SCAN of the keyspace)
and two grouped queries on indexed columns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.registry import KINDS
from core import streams
from core.db import SessionMaker
from core.db.schema import Dialog, Operator
from core.db.writer import DbWriter
from core.envelope import utcnow

log = logging.getLogger(__name__)


def hub_streams(shards: int) -> list[str]:
    """Every stream the hub reads in a consumer group or tails."""
    names = [streams.inbound(i) for i in range(shards)]
    names += [streams.COMMANDS, streams.TIMERS, streams.EVENTS, streams.CRM, streams.CHANNELS]
    for kind in KINDS:
        names += [streams.outbound(kind), streams.raw(kind)]
    return names


@dataclass(frozen=True)
class GroupFigures:
    """One consumer group of one stream, as XINFO GROUPS tells it."""

    stream: str
    group: str
    pending: int
    lag: int | None
    """Entries not yet delivered to the group; None when Redis cannot tell (6.2, or after a
    deletion inside the group's range)."""


async def group_figures(
    redis: Redis, names: list[str]
) -> tuple[dict[str, int], list[GroupFigures]]:
    """Length of each stream and of its dead-letter stream, and each group's figures."""
    pipe = redis.pipeline(transaction=False)
    for name in names:
        pipe.xlen(name)
        pipe.xlen(streams.dead_letter(name))
        pipe.xinfo_groups(name)
    replies: list[Any] = await pipe.execute(raise_on_error=False)
    lengths: dict[str, int] = {}
    groups: list[GroupFigures] = []
    for i, name in enumerate(names):
        length, dead, info = replies[3 * i : 3 * i + 3]
        lengths[name] = length if isinstance(length, int) else 0
        lengths[streams.dead_letter(name)] = dead if isinstance(dead, int) else 0
        if isinstance(info, Exception):
            continue  # no such stream yet
        for group in info:
            lag = group.get("lag")
            groups.append(
                GroupFigures(
                    name,
                    _text(group["name"]),
                    int(group["pending"]),
                    None if lag is None else int(lag),
                )
            )
    return lengths, groups


def stream_families(lengths: dict[str, int], groups: list[GroupFigures]) -> Iterable[Metric]:
    """Prometheus families of the stream figures."""
    length = GaugeMetricFamily(
        "openlines_stream_length",
        "Entries in a stream (dead-letter streams are dlq.*).",
        labels=["stream"],
    )
    for name, value in lengths.items():
        if not name.startswith("dlq.") or value:
            length.add_metric([name], value)
    dead = GaugeMetricFamily(
        "openlines_dead_letters",
        "Entries in the dead-letter stream of a stream.",
        labels=["stream"],
    )
    for name in lengths:
        if not name.startswith("dlq."):
            dead.add_metric([name], lengths.get(streams.dead_letter(name), 0))
    pending = GaugeMetricFamily(
        "openlines_group_pending",
        "Entries delivered to a consumer group and not yet acked.",
        labels=["stream", "group"],
    )
    lag = GaugeMetricFamily(
        "openlines_group_lag",
        "Entries of a stream not yet delivered to a consumer group.",
        labels=["stream", "group"],
    )
    for figures in groups:
        pending.add_metric([figures.stream, figures.group], figures.pending)
        if figures.lag is not None:
            lag.add_metric([figures.stream, figures.group], figures.lag)
    return [length, dead, pending, lag]


async def dialog_families(sessions: SessionMaker, now: datetime | None = None) -> list[Metric]:
    """Dialogs waiting per line with the oldest wait, and operators per presence status."""
    now = now or utcnow()
    waiting = GaugeMetricFamily(
        "openlines_dialogs_waiting", "Dialogs waiting for an operator, per line.", labels=["line"]
    )
    oldest = GaugeMetricFamily(
        "openlines_dialog_oldest_wait_seconds",
        "How long the longest-waiting dialog of a line has been open, in seconds.",
        labels=["line"],
    )
    operators = GaugeMetricFamily(
        "openlines_operators",
        "Operators per presence status (online, away, offline).",
        labels=["status"],
    )
    async with sessions() as session:
        rows = await session.execute(
            select(Dialog.line_id, func.count(), func.min(Dialog.opened_at))
            .where(Dialog.status == "waiting")
            .group_by(Dialog.line_id)
        )
        for line_id, count, first in rows:
            waiting.add_metric([str(line_id)], count)
            oldest.add_metric([str(line_id)], max((now - _aware(first)).total_seconds(), 0.0))
        statuses = await session.execute(
            select(Operator.status, func.count()).group_by(Operator.status)
        )
        for status, count in statuses:
            operators.add_metric([status], count)
    return [waiting, oldest, operators]


def pool_families(engine: AsyncEngine) -> list[Metric]:
    """The database connection pool: its size, connections in use and overflow."""
    pool: Any = engine.pool
    family = GaugeMetricFamily(
        "openlines_db_pool_connections", "Database pool connections by state.", labels=["state"]
    )
    for state, method in (
        ("size", "size"),
        ("checked_out", "checkedout"),
        ("overflow", "overflow"),
        ("idle", "checkedin"),
    ):
        read = getattr(pool, method, None)
        if callable(read):
            family.add_metric([state], float(read()))
    return [family]


def writer_families(writer: DbWriter) -> list[Metric]:
    """Where the router's transactions ran: on the hub's loop, or handed to the writer's
    thread because another writer had the turn (or on PostgreSQL, always)."""
    family = CounterMetricFamily(
        "openlines_router_transactions",
        "The router's transactions by where they ran: on the hub's event loop, or on the"
        " database writer's thread.",
        labels=["ran_on"],
    )
    family.add_metric(["loop"], float(writer.ran_here))
    family.add_metric(["thread"], float(writer.handed_off))
    return [family]


def _aware(at: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; they were stored in UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=utcnow().tzinfo)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
