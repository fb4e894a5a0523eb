"""A Redis that may evict keys is named at start: its evictions would be lost messages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from config.settings import Settings
from core.redis_eviction import eviction_risk
from operator_console.app import build_app

pytestmark = pytest.mark.parametrize("redis_server", ["7"], indirect=True)


@pytest.fixture
async def server_config(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """The test's Redis, its memory settings put back afterwards (the server is shared)."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    before = await client.config_get("maxmemory*")
    try:
        yield client
    finally:
        await client.config_set("maxmemory-policy", str(before["maxmemory-policy"]))
        await client.config_set("maxmemory", str(before["maxmemory"]))
        await client.aclose()


async def test_only_a_limit_with_a_policy_that_evicts_is_a_risk(
    server_config: aioredis.Redis,
) -> None:
    await server_config.config_set("maxmemory", "0")
    await server_config.config_set("maxmemory-policy", "allkeys-lru")
    assert await eviction_risk(server_config) is None  # no limit: nothing is evicted
    await server_config.config_set("maxmemory", str(1 << 30))
    risk = await eviction_risk(server_config)
    assert risk is not None and "maxmemory-policy allkeys-lru" in risk and "noeviction" in risk
    await server_config.config_set("maxmemory-policy", "noeviction")
    assert await eviction_risk(server_config) is None


async def test_the_hub_says_so_at_start(
    server_config: aioredis.Redis, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await server_config.config_set("maxmemory", str(1 << 30))
    await server_config.config_set("maxmemory-policy", "volatile-lru")
    server = TestServer(build_app(settings), host="127.0.0.1")
    await server.start_server()
    await server.close()
    said = [r for r in caplog.records if r.levelno == logging.ERROR and "evicts" in r.getMessage()]
    assert len(said) == 1 and "volatile-lru" in said[0].getMessage()
