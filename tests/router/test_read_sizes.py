"""What one read of the router takes from each stream when entries wait: a batch from an
inbound shard, and as much as all the shards together from the commands stream, which carries
every reply and its delivery report (``router.worker.read_size``)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from redis.asyncio import Redis

from core import streams
from core.bus import Bus, BusConfig, Delivery
from core.envelope import DeliveryOutcome, InboundMessage, RouterInput
from router.worker import Router, RouterService, read_size
from tests.support.router_db import demo_ids, seeded_database

SHARDS = 2
BATCH = 10


def test_only_the_commands_stream_reads_more_than_a_batch() -> None:
    assert read_size(streams.COMMANDS, BATCH, 4) == 4 * BATCH
    assert read_size(streams.inbound(0), BATCH, 4) == BATCH
    assert read_size(streams.TIMERS, BATCH, 4) == BATCH


async def test_a_backlog_of_commands_is_read_a_batch_per_shard_at_a_time(
    redis_url: str, sqlite_url: str
) -> None:
    engine, sessions = await seeded_database(sqlite_url)
    channel_id, _admin = await demo_ids(sessions)
    client = Redis.from_url(redis_url)
    bus = Bus(client, BusConfig(batch_size=BATCH, block_ms=200))
    # Waiting before the router starts: each of its first reads finds a backlog.
    reports = [DeliveryOutcome(message_id=10_000 + n, status="delivered") for n in range(70)]
    messages = [
        InboundMessage(
            channel_id=channel_id, external_user_id=f"visitor-{n}", external_message_id=f"m-{n}"
        )
        for n in range(25)
    ]
    await bus.publish_many([(streams.COMMANDS, r) for r in reports])
    await bus.publish_many([(streams.inbound(0), m) for m in messages])

    router = Router(sessions, bus)
    reads: list[Counter[str]] = []
    handle = router.handle

    async def counted(batch: Sequence[Delivery[RouterInput]]) -> None:
        reads.append(Counter(d.stream for d in batch))
        await handle(batch)

    router.handle = counted  # type: ignore[method-assign]
    service = RouterService(router, bus, SHARDS, "router-under-test")
    task = asyncio.create_task(service.run())
    try:
        async with asyncio.timeout(30):
            while sum(r[streams.COMMANDS] for r in reads) < 70 or (
                sum(r[streams.inbound(0)] for r in reads) < 25
            ):
                await asyncio.sleep(0.05)
    finally:
        bus.close()
        await asyncio.wait_for(task, 15)
        await client.aclose()
        await engine.dispose()

    commands = [r[streams.COMMANDS] for r in reads if r[streams.COMMANDS]]
    inbound = [r[streams.inbound(0)] for r in reads if r[streams.inbound(0)]]
    assert commands == [SHARDS * BATCH] * 3 + [70 - 3 * SHARDS * BATCH], reads
    assert inbound == [BATCH, BATCH, 25 - 2 * BATCH], reads
