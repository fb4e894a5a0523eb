"""After Redis restarts, the hub's client carries on with its first command: every pooled
connection died with the server, and a command that meets one connects again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from core.redis_connect import connect
from core.redis_server import EmbeddedRedis


@pytest.mark.servers
async def test_the_first_commands_after_a_restart_succeed(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    await server.start()
    client = connect(server.url, max_connections=8)
    try:
        # Several connections in the pool, each idle when the server goes.
        await asyncio.gather(*(client.set(f"k{i}", i) for i in range(5)))
        await server.stop()
        await server.start()
        assert [await client.get(f"k{i}") for i in range(5)] == ["0", "1", "2", "3", "4"]
        assert await client.xadd("s", {"a": "1"})
        async with client.pipeline(transaction=True) as pipe:
            pipe.incr("n")
            pipe.incr("n")
            assert await pipe.execute() == [1, 2]
    finally:
        await client.aclose()
        await server.stop()


@pytest.mark.servers
async def test_a_server_still_away_is_reported_at_once(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    await server.start()
    client = connect(server.url, max_connections=2)
    try:
        await client.set("k", "v")
        await server.stop()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RedisConnectionError):
            await client.get("k")
        # One reconnect, refused at once: no backoff, no wait for a socket timeout.
        assert loop.time() - started < 1.0
    finally:
        await client.aclose()
        await server.stop()
