"""The router's lease keeper rides out a Redis restart: no crash, one log line, leases taken
again once Redis answers, and the stream consumers running again under them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from core import streams
from core.bus import Bus, BusConfig
from core.outage import REDIS_DOWN
from router.worker import Router, RouterService
from tests.support.durable_redis import DurableRedis
from tests.support.router_db import seeded_database

SHARDS = 2
NAME = "router-under-test"


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[DurableRedis]:
    server = DurableRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def held_by_us(client: Redis) -> bool:
    """Whether this router holds every stream's lease and reads each with a live consumer."""
    names = [streams.inbound(i) for i in range(SHARDS)] + [streams.COMMANDS, streams.TIMERS]
    try:
        holders = await client.mget(["lease:" + streams.stream_lease("router", n) for n in names])
    except REDIS_DOWN:
        return False
    return all(h in (NAME, NAME.encode()) for h in holders)


async def wait_until_held(client: Redis, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not await held_by_us(client):
            await asyncio.sleep(0.1)


async def test_a_redis_restart_does_not_stop_the_router(
    durable_redis: DurableRedis, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine, sessions = await seeded_database(sqlite_url)
    client = Redis.from_url(durable_redis.url)
    bus = Bus(client, BusConfig(block_ms=200))
    service = RouterService(Router(sessions, bus), bus, SHARDS, NAME, lease_ttl_ms=900)
    task = asyncio.create_task(service.run())
    try:
        await wait_until_held(client)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            durable_redis.kill()
            await asyncio.sleep(2)  # longer than the lease ttl: the leases lapse meanwhile
            assert not task.done(), task
            durable_redis.start()
            await wait_until_held(client)
            await asyncio.sleep(1)
        assert not task.done(), task
        assert all(not t.done() for t in service.tasks.values()), service.tasks
        lost = [r for r in caplog.records if "lease keeper of router leases lost" in r.message]
        assert len(lost) == 1, [r.message for r in caplog.records]
        assert not [r for r in caplog.records if r.exc_info], "no traceback is logged"
    finally:
        bus.close()
        await asyncio.wait_for(task, 15)
        await client.aclose()
        await engine.dispose()
