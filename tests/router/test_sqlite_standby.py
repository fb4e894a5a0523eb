"""On SQLite a second router process stands by: the first holds every router stream and keeps
them, the second holds none, not even streams whose leases ran out while the first holds
others, and takes them all over once the first dies.

SQLite has one write lock, so two routers sharing the streams only took turns at it, in
smaller batches, and carried less than one (docs/BENCHMARKS.md). The roles run as
``openlines run --role router`` children (tests/support/roles.py) on one Redis and one SQLite
file, as an installation on one machine runs them.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio

from core import streams
from tests.support.roles import Deployment, RoleProcess

pytestmark = pytest.mark.parametrize("redis_server", ["7"], indirect=True)

SHARDS = 4
STREAMS = [streams.inbound(i) for i in range(SHARDS)] + [streams.COMMANDS, streams.TIMERS]
SETTINGS = {
    "inbound_shards": str(SHARDS),
    "lease_ttl_ms": "1500",  # a dead router's streams move on within 1.5 s
    "bus_block_ms": "100",
}


@pytest.fixture
async def deployment(tmp_path: Path, redis_url: str, sqlite_url: str) -> AsyncIterator[Deployment]:
    hub = Deployment(tmp_path, redis_url, sqlite_url, dict(SETTINGS))
    try:
        yield hub
    finally:
        hub.stop()


async def holders(redis_url: str) -> dict[str, str]:
    """Who holds each router stream's lease (streams nobody holds are left out)."""
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = ["lease:" + streams.stream_lease("router", s) for s in STREAMS]
        values = await client.mget(keys)
    finally:
        await client.aclose()
    return {s: str(v) for s, v in zip(STREAMS, values, strict=True) if v}


def held_by(router: RoleProcess, held: dict[str, str]) -> list[str]:
    return [s for s, name in held.items() if f"-router-{router.pid}-" in name]


async def all_held_by(redis_url: str, router: RoleProcess, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while len(held_by(router, await holders(redis_url))) < len(STREAMS):
            await asyncio.sleep(0.1)


async def test_a_second_router_on_sqlite_stands_by_and_takes_over(
    deployment: Deployment, redis_url: str
) -> None:
    first = deployment.start("router")  # migrates the database alone
    await deployment.ready(first)
    await all_held_by(redis_url, first)

    second = deployment.start("router")
    await deployment.ready(second)
    # Several rounds of the leases (one every 0.5 s): a router sharing out would have handed
    # half the streams to the second by now.
    for _ in range(6):
        await asyncio.sleep(0.5)
        held = await holders(redis_url)
        assert len(held_by(first, held)) == len(STREAMS), held
        assert held_by(second, held) == []

    first.kill()  # no lease released: the second waits for them to expire
    await all_held_by(redis_url, second)


async def test_a_standby_router_on_sqlite_takes_no_part_of_a_live_routers_streams(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    """The first router is paused and half of its leases are deleted, as if they had run
    out while the rest still hold: the second one stays on standby (sharing them would only
    make the two take turns at SQLite's lock), and the first takes its streams up again."""
    ttl_ms = 6000  # rounds every 2 s
    hub = Deployment(tmp_path, redis_url, sqlite_url, {**SETTINGS, "lease_ttl_ms": str(ttl_ms)})
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        first = hub.start("router")
        await hub.ready(first)
        await all_held_by(redis_url, first)
        second = hub.start("router")
        await hub.ready(second)

        first.process.send_signal(signal.SIGSTOP)
        try:
            gone = STREAMS[: len(STREAMS) // 2]
            await client.delete(*["lease:" + streams.stream_lease("router", s) for s in gone])
            # More than one of the second router's rounds, within the first one's leases.
            await asyncio.sleep(ttl_ms / 1000 / 2)
            held = await holders(redis_url)
            assert held_by(second, held) == [], held
        finally:
            first.process.send_signal(signal.SIGCONT)
        await all_held_by(redis_url, first)
        assert held_by(second, await holders(redis_url)) == []
    finally:
        await client.aclose()
        hub.stop()
