"""The hub-wide record of open widgets: a process sees the visitors other processes hold, not
its own, and a process that stops renewing (it died) stops counting once its claim runs out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from connectors.webchat.presence import VisitorPresence, live_key

pytestmark = pytest.mark.parametrize("redis_server", ["7"], indirect=True)

KARI = (1, "kari")


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    connection = redis.asyncio.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


async def test_a_visitor_is_present_elsewhere_while_another_process_holds_them(
    client: redis.asyncio.Redis,
) -> None:
    now = [1000.0]
    holder = VisitorPresence(lambda: client, lambda: now[0], live_seconds=30)
    other = VisitorPresence(lambda: client, lambda: now[0], live_seconds=30)
    assert not await other.present_elsewhere(KARI)

    await holder.do_join(KARI)
    assert await other.present_elsewhere(KARI)
    assert not await holder.present_elsewhere(KARI)  # its own socket is not "elsewhere"
    assert 0 < await client.ttl(live_key(KARI)) <= 31

    await holder.do_leave(KARI)
    assert not await other.present_elsewhere(KARI)

    await holder.do_join(KARI)
    now[0] += 31  # the holder died: nobody renewed its claim
    assert not await other.present_elsewhere(KARI)
