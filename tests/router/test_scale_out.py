"""Scale-out on PostgreSQL with every role in a process of its own: three routers share the
streams, capacity holds across them, and a router's death keeps a client's messages in order.

The roles run as ``openlines run --role …`` children (tests/support/roles.py) against one Redis
and one PostgreSQL database; visitors write through the connectors process's widget socket and
the admin closes dialogs through the console process, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from config.settings import Settings
from core import streams
from core.db.schema import Operator
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.roles import Deployment, RoleProcess
from tests.support.routing_world import configure

# One Redis version is enough: what is tested here is the routers' use of PostgreSQL and leases.
pytestmark = pytest.mark.parametrize("redis_server", ["7"], indirect=True)

SHARDS = 6
STREAMS = SHARDS + 2  # the inbound shards, the command stream and the timer stream
CAPACITY = 2
OPERATORS = ("ann", "bob", "cat")
SETTINGS = {
    "inbound_shards": str(SHARDS),
    "lease_ttl_ms": "1500",  # a dead router's streams move on within 1.5 s
    "claim_idle_ms": "60000",  # so order after a failover cannot rest on the periodic reclaim
    "bus_block_ms": "100",
    "log_level": "INFO",
}


@pytest.fixture
async def deployment(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> AsyncIterator[Deployment]:
    hub = Deployment(tmp_path, redis_url, postgres_url, dict(SETTINGS))
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    db = create_async_engine(postgres_url, poolclass=NullPool)
    try:
        yield db
    finally:
        await db.dispose()


async def start_roles(hub: Deployment, *roles: str) -> list[RoleProcess]:
    """The first role migrates and seeds the database alone; the others start together."""
    first = hub.start(roles[0])
    await hub.ready(first)
    rest = [hub.start(role) for role in roles[1:]]
    await hub.ready(*rest)
    return [first, *rest]


async def staff_the_line(hub: Deployment, engine: AsyncEngine) -> None:
    """The demo line gives dialogs evenly to three online operators of capacity 2 each."""
    settings = Settings(database_url=hub.database_url, redis_url=hub.redis_url)
    await configure(settings, "evenly", [(login, CAPACITY) for login in OPERATORS])
    async with engine.begin() as conn:
        await conn.execute(
            update(Operator).where(Operator.login.in_(OPERATORS)).values(status="online")
        )


async def holders(redis_url: str) -> dict[str, str]:
    """Who holds each router stream's lease."""
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        names = ["lease:" + streams.stream_lease("router", s) for s in router_stream_names()]
        values = await client.mget(names)
    finally:
        await client.aclose()
    return {n: str(v) for n, v in zip(router_stream_names(), values, strict=True) if v}


def router_stream_names() -> list[str]:
    return [streams.inbound(i) for i in range(SHARDS)] + [streams.COMMANDS, streams.TIMERS]


async def shared_out(redis_url: str, routers: int, timeout: float = 20) -> dict[str, str]:
    """Wait until every stream has a holder and each of ``routers`` holds its fair share."""
    share = -(-STREAMS // routers)
    async with asyncio.timeout(timeout):
        while True:
            held = await holders(redis_url)
            counts = [list(held.values()).count(h) for h in set(held.values())]
            if len(held) == STREAMS and len(counts) == routers and max(counts) <= share:
                return held
            await asyncio.sleep(0.1)


async def load_by_operator(conn: AsyncConnection) -> dict[int, int]:
    rows = await conn.execute(
        text(
            "SELECT operator_id, count(*) FROM dialogs WHERE status IN ('waiting', 'open')"
            " AND operator_id IS NOT NULL GROUP BY operator_id"
        )
    )
    return {operator_id: count for operator_id, count in rows}


async def sample_peaks(engine: AsyncEngine, peaks: dict[int, int], samples: list[int]) -> None:
    """Sample every operator's open dialogs from the database until cancelled."""
    async with engine.connect() as conn:
        while True:
            for operator_id, count in (await load_by_operator(conn)).items():
                peaks[operator_id] = max(peaks.get(operator_id, 0), count)
            samples.append(1)
            await conn.rollback()  # a fresh snapshot for the next sample
            await asyncio.sleep(0.01)


async def burst(base: str, first: int, count: int, visitors: list[VisitorClient]) -> None:
    """``count`` new visitors write at the same moment: as many new dialogs at once."""

    async def one(n: int) -> None:
        visitor = VisitorClient(base)
        visitors.append(visitor)
        await visitor.connect()
        await visitor.say(f"hello from visitor {n}")

    await asyncio.gather(*(one(first + n) for n in range(count)))


async def close_some(admin: OperatorClient, engine: AsyncEngine, count: int) -> None:
    """The admin closes up to ``count`` assigned dialogs, which frees their operators."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id FROM dialogs WHERE status = 'open' ORDER BY id LIMIT :n"), {"n": count}
        )
        ids = [row[0] for row in rows]
    for dialog_id in ids:
        status, _body = await admin.call("POST", f"/api/dialogs/{dialog_id}/close")
        assert status == 202


async def test_three_routers_never_give_an_operator_more_dialogs_than_capacity(
    deployment: Deployment, engine: AsyncEngine, redis_url: str
) -> None:
    console, connectors, *_routers = await start_roles(
        deployment, "console", "connectors", "router", "router", "router"
    )
    await staff_the_line(deployment, engine)
    held = await shared_out(redis_url, routers=3)
    assert len(set(held.values())) == 3, held  # every router consumes streams of its own

    admin = OperatorClient(console.url)
    await admin.login("admin", ADMIN_PASSWORD)
    peaks: dict[int, int] = {}
    samples: list[int] = []
    sampler = asyncio.create_task(sample_peaks(engine, peaks, samples))
    visitors: list[VisitorClient] = []
    numbers = itertools.count()
    try:
        for _round in range(6):
            # New dialogs arrive on every shard while closed ones free operators, whose waiting
            # dialogs the command stream's holder gives out at the same time.
            await asyncio.gather(
                burst(connectors.url, next(numbers) * 100, 10, visitors),
                close_some(admin, engine, 4),
            )
            await asyncio.sleep(0.4)
        async with asyncio.timeout(20):
            while not await all_routed(engine):
                await asyncio.sleep(0.1)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        for visitor in visitors:
            await visitor.close()
        await admin.close()
    print(f"peak open dialogs per operator {peaks} (capacity {CAPACITY}), {len(samples)} samples")
    assert all(peak <= CAPACITY for peak in peaks.values()), peaks
    assert len(samples) > 50
    assert max(peaks.values()) == CAPACITY, "the test never filled an operator"


async def all_routed(engine: AsyncEngine) -> bool:
    """Every client message stored and every operator full (the dialogs left wait)."""
    async with engine.connect() as conn:
        loads = await load_by_operator(conn)
        stored = await conn.scalar(text("SELECT count(*) FROM messages WHERE author = 'client'"))
    return stored == 60 and sorted(loads.values()) == [CAPACITY] * len(OPERATORS)


async def test_a_router_killed_mid_stream_leaves_a_clients_messages_in_order(
    deployment: Deployment, engine: AsyncEngine, redis_url: str
) -> None:
    connectors, *routers = await start_roles(deployment, "connectors", "router", "router")
    await shared_out(redis_url, routers=2)
    visitor = VisitorClient(connectors.url)
    sent = [f"message {n}" for n in range(14)]
    try:
        await visitor.connect()
        await visitor.say(sent[0])
        dialog_id, shard = await dialog_of(engine, sent[0])
        holder = await holder_of(redis_url, shard, routers)
        async with engine.connect() as blocker:
            # The client's dialog row is locked here, so the holder reads the next messages
            # and then waits on its write: they are pending on it when it is killed.
            await blocker.execute(
                text("SELECT id FROM dialogs WHERE id = :d FOR UPDATE"), {"d": dialog_id}
            )
            for message in sent[1:6]:
                await visitor.say(message)
            await pending_on(redis_url, shard)
            holder.kill()
            for message in sent[6:]:
                await visitor.say(message)
            await blocker.rollback()
        async with asyncio.timeout(30):
            while len(stored := await stored_texts(engine, dialog_id)) < len(sent):
                await asyncio.sleep(0.1)
    finally:
        await visitor.close()
    assert stored == sent
    survivor = next(r for r in routers if r is not holder)
    assert (await holders(redis_url))[shard].split("-")[-2] == str(survivor.pid)


async def dialog_of(engine: AsyncEngine, first_text: str) -> tuple[int, str]:
    """The dialog a message was stored in, and the inbound shard its client writes to."""
    query = text(
        "SELECT d.id, d.channel_id, i.external_id FROM messages m"
        " JOIN dialogs d ON d.id = m.dialog_id JOIN client_identities i ON i.id = d.identity_id"
        " WHERE m.text = :t"
    )
    async with asyncio.timeout(15):
        while True:
            async with engine.connect() as conn:
                row = (await conn.execute(query, {"t": first_text})).first()
            if row is not None:
                dialog_id, channel_id, external_id = row
                return dialog_id, streams.inbound(streams.shard_of(channel_id, external_id, SHARDS))
            await asyncio.sleep(0.05)


async def holder_of(redis_url: str, shard: str, routers: list[RoleProcess]) -> RoleProcess:
    """The router process holding a shard's lease: its pid is part of its consumer name."""
    name = (await holders(redis_url))[shard]
    return next(r for r in routers if name.split("-")[-2] == str(r.pid))


async def pending_on(redis_url: str, shard: str) -> None:
    """Wait until the shard's holder has read an entry it has not acknowledged."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(10):
            while not int((await client.xpending(shard, streams.ROUTER_GROUP))["pending"]):
                await asyncio.sleep(0.02)
    finally:
        await client.aclose()


async def stored_texts(engine: AsyncEngine, dialog_id: int) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT text FROM messages WHERE dialog_id = :d AND author = 'client' ORDER BY id"
            ),
            {"d": dialog_id},
        )
        return [row[0] for row in rows]
