"""A tail keeps its place across a restart of a real redis-server with AOF: entries added
before, during and after the outage all arrive, in order, none twice."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from core.bus import Bus, BusConfig
from core.envelope import InboundMessage
from core.redis_server import EmbeddedRedis

STREAM = "out.test"


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


async def test_tail_keeps_its_position_across_a_redis_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    await server.start()
    client = aioredis.from_url(server.url)
    bus = Bus(client, BusConfig(block_ms=100))
    seen: list[str] = []

    async def read() -> None:
        async for _entry_id, envelope in bus.tail(STREAM, after="0-0"):
            assert isinstance(envelope, InboundMessage)
            seen.append(envelope.external_message_id)

    reader = asyncio.create_task(read())
    try:
        await publish(server.url, range(0, 5))
        await wait_for(lambda: len(seen) == 5)
        with caplog.at_level(logging.WARNING, logger="core.outage"):
            await server.stop()
            await asyncio.sleep(1.5)  # several failed reads, one log line
            assert not reader.done()
            await server.start()
            # Added while the tail still waits out its backoff: the outage window it missed.
            await publish(server.url, range(5, 10))
            await wait_for(lambda: len(seen) >= 10)
            await publish(server.url, range(10, 15))
            await wait_for(lambda: len(seen) >= 15)
            await asyncio.sleep(0.3)  # room for a duplicate to show up
        assert seen == [str(n) for n in range(15)]
        # This tail's lines only: the log is the process's, and may carry another reader's.
        ours = [r for r in caplog.records if f"tail of {STREAM} " in r.getMessage()]
        lost = [r for r in ours if "lost Redis" in r.getMessage()]
        assert len(lost) == 1
        assert not [r for r in ours if r.exc_info]
    finally:
        bus.close()
        await asyncio.wait_for(reader, 5)
        await client.aclose()
        await server.stop()
