"""The hub on a three-master Redis Cluster: web chat end to end, while the slots of the inbound
streams (each with its lease, failure counts and dead letters) move to another master under
widget load, and every message the widget was told "accepted" is stored and shown once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from redis.crc import key_slot
from sqlalchemy import func, select

from config.settings import Settings
from core import streams
from core.app_keys import SESSIONS
from core.db.schema import Message
from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.redis_cluster import RedisClusterGroup

pytestmark = [pytest.mark.servers, pytest.mark.timeout(90)]

VISITORS = 3
SHARDS = 2
METRICS_TOKEN = "scrape-me"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisClusterGroup]:
    group = RedisClusterGroup(tmp_path / "redis")
    try:
        group.start()
        yield group
    finally:
        group.stop()


@pytest.fixture
async def hub(cluster: RedisClusterGroup, tmp_path: Path) -> AsyncIterator[TestServer]:
    settings = Settings(
        redis_url=cluster.url,
        data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD,
        inbound_shards=SHARDS,
        claim_idle_ms=500,
        lease_ttl_ms=3000,
        bus_block_ms=100,
        metrics_token=METRICS_TOKEN,
    )
    server = TestServer(build_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def send_until_accepted(visitor: VisitorClient, text: str) -> str:
    """Send like the widget's outbox: the same ``client_msg_id`` again until "accepted"."""
    cid = uuid.uuid4().hex
    while True:
        await visitor.say(text, cid)
        async with asyncio.timeout(15):
            while True:
                frame = await visitor.receive()
                if frame.get("client_msg_id") == cid and frame["type"] in ("accepted", "error"):
                    break
        if frame["type"] == "accepted":
            return cid
        await asyncio.sleep(0.1)


async def load(visitors: list[VisitorClient], accepted: list[str], until: asyncio.Event) -> None:
    async def one(visitor: VisitorClient) -> None:
        n = 0
        while not until.is_set():
            n += 1
            accepted.append(await send_until_accepted(visitor, f"load {n}"))

    await asyncio.gather(*(one(v) for v in visitors))


async def stored_once(hub: TestServer, accepted: list[str]) -> Counter[str]:
    """How often each accepted message is stored, once all of them are (30 s at most)."""
    stored: Counter[str] = Counter()
    async with asyncio.timeout(30):
        while set(stored) != set(accepted):
            async with hub.app[SESSIONS]() as session:
                rows = await session.execute(
                    select(Message.client_msg_id, func.count())
                    .where(Message.client_msg_id.in_(accepted), Message.author == "client")
                    .group_by(Message.client_msg_id)
                )
            stored = Counter({str(cid): count for cid, count in rows})
            await asyncio.sleep(0.1)
    return stored


async def test_web_chat_on_a_cluster_loses_nothing_while_a_stream_slot_moves(
    cluster: RedisClusterGroup, hub: TestServer
) -> None:
    base = str(hub.make_url("")).rstrip("/")
    admin = OperatorClient(base)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.wait_status("online")
    await admin.open_socket()
    visitors = [VisitorClient(base) for _ in range(VISITORS)]
    for visitor in visitors:
        assert (await visitor.connect())["type"] == "welcome"

    accepted: list[str] = []
    stop = asyncio.Event()
    running = asyncio.create_task(load(visitors, accepted, stop))
    while len(accepted) < 30:
        await asyncio.sleep(0.02)
    moved_keys = 0
    started = time.monotonic()
    for shard in range(SHARDS):
        slot = key_slot(streams.inbound(shard).encode())
        owner = await cluster.owner_of(slot)
        target = cluster.nodes[(cluster.nodes.index(owner) + 1) % len(cluster.nodes)]
        moved_keys += await cluster.move_slot(slot, target)
        assert await cluster.owner_of(slot) is target
    moved_in = time.monotonic() - started
    after_move = len(accepted)
    while len(accepted) < after_move + 30:
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(running, 30)
    # The stream, its lease and the router's failure counts moved with the slot.
    assert moved_keys >= SHARDS * 2

    assert len(set(accepted)) == len(accepted)
    stored = await stored_once(hub, accepted)
    assert set(stored.values()) == {1}, "an accepted message was stored twice"
    status, listing = await admin.call("GET", "/api/dialogs?status=all")
    assert status == 200, listing
    shown: Counter[str] = Counter()
    for dialog in listing["dialogs"]:
        _status, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
        shown.update(m["client_msg_id"] for m in body["messages"] if m["author"] == "client")
    assert all(shown[cid] == 1 for cid in accepted)

    # The operator answers one visitor; the reply reaches that visitor's widget.
    last = await send_until_accepted(visitors[0], "anyone there?")
    await stored_once(hub, [last])
    async with hub.app[SESSIONS]() as session:
        dialog_id = await session.scalar(
            select(Message.dialog_id).where(Message.client_msg_id == last)
        )
    status, body = await admin.call(
        "POST", f"/api/dialogs/{dialog_id}/messages", {"text": "On it.", "client_msg_id": "r1"}
    )
    assert status == 202, body
    answered = await visitors[0].receive_until("message", timeout=15, author="operator")
    assert answered["text"] == "On it."

    # Readiness and metrics read every stream's figures in one pipeline across the masters.
    status, ready = await admin.call("GET", "/readyz")
    assert status == 200, ready
    assert sorted(ready["leases"]) == sorted([*map(streams.inbound, range(SHARDS)),
                                              streams.COMMANDS, streams.TIMERS])  # fmt: skip
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with admin.http.get(f"{base}/metrics", headers=headers) as resp:
        assert resp.status == 200
        assert 'openlines_stream_length{stream="in.0"}' in await resp.text()

    print(
        f"\nredis cluster: {len(accepted)} accepted, all stored and shown once; "
        f"{moved_keys} keys of {SHARDS} inbound slots moved in {moved_in:.2f} s under load"
    )
    for visitor in visitors:
        await visitor.close()
    await admin.close()
