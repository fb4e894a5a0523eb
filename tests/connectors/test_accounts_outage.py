"""The account watch of a connector keeps listening across a restart of a real redis-server:
a change notice published right after Redis is back, before the watch has reconnected, still
makes it reload (it reads on from the last notice it handled, not from the newest entry)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from connectors.accounts import Accounts
from core import streams
from core.bus import Bus, BusConfig
from core.db import make_engine, make_sessionmaker, upgrade
from core.envelope import ChannelsChanged
from core.redis_server import EmbeddedRedis

pytestmark = pytest.mark.servers


async def announce(url: str, kind: str) -> None:
    """Publish a change notice through a client of its own, as the console process would."""
    client = aioredis.from_url(url)
    try:
        await Bus(client).publish(streams.CHANNELS, ChannelsChanged(channel_id=1, kind=kind))
    finally:
        await client.aclose()


async def wait_for(predicate: object, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_the_watch_hears_a_change_announced_right_after_redis_restarts(
    tmp_path: Path, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    await upgrade(engine)
    server = EmbeddedRedis(tmp_path / "redis")
    await server.start()
    client = aioredis.from_url(server.url)
    bus = Bus(client, BusConfig(block_ms=100))
    reloads: list[int] = []

    async def on_change() -> None:
        reloads.append(len(reloads))

    watch = asyncio.create_task(
        Accounts("webchat").watch(bus, make_sessionmaker(engine), on_change)
    )
    try:
        await wait_for(lambda: len(reloads) == 1)  # the first load
        await announce(server.url, "webchat")
        await wait_for(lambda: len(reloads) == 2)
        await server.stop()
        await asyncio.sleep(1.0)  # the watch's tail waits out its backoff
        assert not watch.done()
        await server.start()
        await announce(server.url, "telegram")  # another kind's: no reload
        await announce(server.url, "webchat")
        await wait_for(lambda: len(reloads) == 3)
        await asyncio.sleep(0.3)
        assert len(reloads) == 3
    finally:
        bus.close()
        await asyncio.wait_for(watch, 5)
        await client.aclose()
        await server.stop()
        await engine.dispose()
