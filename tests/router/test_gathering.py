"""A busy router lets a lone batch wait for another consumer's: the two shards' messages are
stored and announced by one transaction (``router.group_commit.Gathering``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

import pytest
import redis.asyncio
from sqlalchemy import select

from core import streams
from core.bus import Bus, Delivery
from core.db.schema import Message
from core.envelope import InboundMessage, MessageEvent, RouterInput, decode
from router.group_commit import Gathering
from router.worker import Router
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.router_db import demo_ids, seeded_database

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]

CLOCK = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


def _said(channel_id: int, shard: int, visitor: str) -> Delivery[RouterInput]:
    said = InboundMessage(
        channel_id=channel_id,
        external_user_id=visitor,
        external_message_id=f"m-{visitor}",
        text=f"hello from {visitor}",
    )
    return Delivery(streams.inbound(shard), "0-1", said)


def _batches(bus: Bus) -> tuple[float, float]:
    """How many transactions the router ran, and how many entries they held."""
    samples = {
        s.name: s.value
        for metric in bus.metrics.router_batch_size.collect()
        for s in metric.samples
    }
    return samples["openlines_router_batch_size_count"], samples["openlines_router_batch_size_sum"]


async def test_two_shards_messages_go_in_one_transaction(db_url: str, redis_url: str) -> None:
    engine, sessions = await seeded_database(db_url)
    channel_id, _admin_id = await demo_ids(sessions)
    client = redis.asyncio.Redis.from_url(redis_url)
    bus = Bus(client)
    # Busy from the first entry on, with a window far longer than the test needs.
    gathering = Gathering(window_s=30.0, busy_per_s=1e-6, enough=2)
    router = Router(sessions, bus, lambda: CLOCK, gathering=gathering)
    try:
        first = asyncio.create_task(router.handle([_said(channel_id, 0, "ann")]))
        await asyncio.sleep(0.05)
        assert not first.done()  # waiting for company
        await asyncio.wait_for(
            asyncio.gather(first, router.handle([_said(channel_id, 1, "bob")])), 10
        )
        assert _batches(bus) == (1.0, 2.0)
        async with sessions() as session:
            texts = set(await session.scalars(select(Message.text)))
        assert texts == {"hello from ann", "hello from bob"}
        raw = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(streams.EVENTS))
        announced = {
            event.message.text
            for _id, fields in raw
            if isinstance(event := decode(fields[b"data"]), MessageEvent)
        }
        assert announced == texts
    finally:
        await client.aclose()
        await engine.dispose()
