"""A consumer keeps running across a stop and restart of a real redis-server with AOF: entries
added before, during and after the outage are each handled once, a batch whose handler lost
Redis is handled again from the pending list, and the outage costs one log line, not a
traceback per attempt."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pydantic import TypeAdapter
from redis.exceptions import ConnectionError as RedisConnectionError

from core import streams
from core.bus import Bus, BusConfig, Delivery
from core.envelope import ENVELOPE, Envelope, InboundMessage
from core.redis_server import EmbeddedRedis

STREAM = "in.test"
GROUP = "testers"
ADAPTER: TypeAdapter[Envelope] = ENVELOPE


def message(n: int) -> InboundMessage:
    return InboundMessage(
        channel_id=1, external_user_id="u1", external_message_id=str(n), text=f"hello {n}"
    )


async def publish(url: str, numbers: range) -> None:
    """Publish through a client of its own, as another process would."""
    client = aioredis.from_url(url)
    try:
        for n in numbers:
            await Bus(client).publish(STREAM, message(n))
    finally:
        await client.aclose()


async def wait_for(predicate: object, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.02)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    """A redis-server with AOF that the test stops and starts on the same port and data."""
    redis_server = EmbeddedRedis(tmp_path / "redis")
    await redis_server.start()
    yield redis_server
    await redis_server.stop()


def numbers(batch: Sequence[Delivery[Envelope]]) -> list[str]:
    out = []
    for delivery in batch:
        assert isinstance(delivery.payload, InboundMessage)
        out.append(delivery.payload.external_message_id)
    return out


async def test_a_consumer_carries_on_after_redis_restarts(
    server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    client = aioredis.from_url(server.url)
    bus = Bus(client, BusConfig(block_ms=100, claim_every_s=0.2))
    handled: list[str] = []

    async def handler(batch: Sequence[Delivery[Envelope]]) -> None:
        handled.extend(numbers(batch))

    consumer = bus.consumer(STREAM, GROUP, "c1", handler, ADAPTER)
    task = asyncio.create_task(consumer.run())
    try:
        await publish(server.url, range(0, 5))
        await wait_for(lambda: len(handled) == 5)
        with caplog.at_level(logging.WARNING, logger="core.outage"):
            await server.stop()
            await asyncio.sleep(1.5)  # several failed attempts
            assert not task.done()
            await server.start()
            await publish(server.url, range(5, 10))
            await wait_for(lambda: len(handled) >= 10)
            await publish(server.url, range(10, 15))
            await wait_for(lambda: len(handled) >= 15)
            await asyncio.sleep(0.3)  # room for a repeat to show up
        assert handled == [str(n) for n in range(15)]
        lost = [r for r in caplog.records if "lost Redis" in r.getMessage()]
        assert len(lost) == 1 and "consumer of in.test/testers" in lost[0].getMessage()
        assert any("is back after" in r.getMessage() for r in caplog.records)
        assert not [r for r in caplog.records if r.exc_info]
        assert await client.xpending(STREAM, GROUP) == {
            "pending": 0,
            "min": None,
            "max": None,
            "consumers": [],
        }
    finally:
        bus.close()
        await asyncio.wait_for(task, 5)
        await client.aclose()


async def test_a_batch_whose_handler_lost_redis_stays_pending_and_is_handled_again(
    server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    client = aioredis.from_url(server.url)
    bus = Bus(client, BusConfig(block_ms=100, max_deliveries=2))
    attempts: list[list[str]] = []

    async def handler(batch: Sequence[Delivery[Envelope]]) -> None:
        attempts.append(numbers(batch))
        if len(attempts) <= 3:
            # As a handler whose own publish hit a Redis that is going away.
            raise RedisConnectionError("Connection closed by server.")

    consumer = bus.consumer(STREAM, GROUP, "c1", handler, ADAPTER)
    await publish(server.url, range(0, 3))
    task = asyncio.create_task(consumer.run())
    try:
        with caplog.at_level(logging.INFO, logger="core"):
            await wait_for(lambda: len(attempts) >= 4)
            await asyncio.sleep(0.3)
        # The same batch each time, never split, never counted as a failure of its entries.
        assert attempts == [["0", "1", "2"]] * 4
        assert not await client.exists(streams.dead_letter(STREAM))
        assert not await client.exists(streams.bus_failures(STREAM, GROUP))
        assert (await client.xpending(STREAM, GROUP))["pending"] == 0
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        bus.close()
        await asyncio.wait_for(task, 5)
        await client.aclose()
