"""Leases on real Redis: one holder at a time, kept by renewing, taken over once expired, and
never renewed or released by a holder that lost them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from core.lease import Lease, Members

TTL_MS = 1_000
"""Long enough that a loaded machine still renews in time, short enough to wait out."""


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def leases(client: redis.asyncio.Redis, *holders: str) -> list[Lease]:
    return [Lease(client, "router:inbound:0", holder, ttl_ms=TTL_MS) for holder in holders]


async def test_one_holder_at_a_time(redis_client: redis.asyncio.Redis) -> None:
    first, second = leases(redis_client, "router-a", "router-b")
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire(), "the holder acquiring again keeps its lease"
    assert await redis_client.get("lease:router:inbound:0") == b"router-a"


async def test_renewing_keeps_the_lease_past_its_first_ttl(
    redis_client: redis.asyncio.Redis,
) -> None:
    first, second = leases(redis_client, "router-a", "router-b")
    assert await first.acquire()
    for _ in range(3):
        await asyncio.sleep(TTL_MS / 2 / 1000)
        assert await first.renew()
        assert await redis_client.pttl(first.key) > TTL_MS / 2
    assert not await second.acquire()


async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew_or_release_it(
    redis_client: redis.asyncio.Redis,
) -> None:
    first, second = leases(redis_client, "router-a", "router-b")
    assert await first.acquire()
    await asyncio.sleep(TTL_MS * 1.5 / 1000)
    assert await second.acquire()
    assert not await first.renew()
    await first.release()
    assert await redis_client.get(second.key) == b"router-b"
    assert not await first.acquire()


async def test_a_released_lease_is_free_at_once(redis_client: redis.asyncio.Redis) -> None:
    first, second = leases(redis_client, "router-a", "router-b")
    assert await first.acquire()
    await first.release()
    assert await second.acquire()
    assert not await first.renew()


async def test_members_count_the_live_routers_and_drop_one_that_stops_beating(
    redis_client: redis.asyncio.Redis,
) -> None:
    first, second = (Members(redis_client, "router", n, ttl_ms=TTL_MS) for n in ("a", "b"))
    assert await first.beat() == 1
    assert await second.beat() == 2
    await asyncio.sleep(TTL_MS * 1.5 / 1000)  # the first dies: it beats no more
    assert await second.beat() == 1


async def test_a_member_that_leaves_is_gone_at_once(redis_client: redis.asyncio.Redis) -> None:
    first, second = (Members(redis_client, "router", n, ttl_ms=TTL_MS) for n in ("a", "b"))
    await first.beat()
    await second.beat()
    await first.leave()
    assert await second.beat() == 1
