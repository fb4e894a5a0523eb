"""The hub on a three-master Redis Cluster: web chat end to end, while the slots of the inbound
streams (each with its lease, failure counts and dead letters) move to another master under
widget load, and every message the widget was told "accepted" is stored and shown once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from redis.crc import key_slot
from sqlalchemy import select

from core import streams
from core.app_keys import SESSIONS
from core.db.schema import Message
from tests.support.ha_hub import (
    Load,
    assert_each_stored_and_shown_once,
    hub_on,
    hub_people,
    running,
    send_until_accepted,
    stored_once,
)
from tests.support.redis_cluster import RedisClusterGroup

pytestmark = [pytest.mark.servers, pytest.mark.timeout(90)]

VISITORS = 3
SHARDS = 2
METRICS_TOKEN = "scrape-me"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisClusterGroup]:
    with running(RedisClusterGroup(tmp_path / "redis")) as group:
        yield group


@pytest.fixture
async def hub(cluster: RedisClusterGroup, tmp_path: Path) -> AsyncIterator[TestServer]:
    async with hub_on(
        cluster, tmp_path, inbound_shards=SHARDS, metrics_token=METRICS_TOKEN
    ) as server:
        yield server


async def test_web_chat_on_a_cluster_loses_nothing_while_a_stream_slot_moves(
    cluster: RedisClusterGroup, hub: TestServer
) -> None:
    async with hub_people(hub, VISITORS) as (admin, visitors):
        await admin.open_socket()
        load = Load(visitors)
        await load.more(30)
        moved_keys = 0
        started = time.monotonic()
        for shard in range(SHARDS):
            slot = key_slot(streams.inbound(shard).encode())
            owner = await cluster.owner_of(slot)
            target = cluster.nodes[(cluster.nodes.index(owner) + 1) % len(cluster.nodes)]
            moved_keys += await cluster.move_slot(slot, target)
            assert await cluster.owner_of(slot) is target
        moved_in = time.monotonic() - started
        await load.more(30)
        accepted = await load.finish()
        # The stream, its lease and the router's failure counts moved with the slot.
        assert moved_keys >= SHARDS * 2
        await assert_each_stored_and_shown_once(hub, admin, accepted)

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
        async with admin.http.get(f"{admin.base}/metrics", headers=headers) as resp:
            assert resp.status == 200
            assert 'openlines_stream_length{stream="in.0"}' in await resp.text()

    print(
        f"\nredis cluster: {len(accepted)} accepted, all stored and shown once; "
        f"{moved_keys} keys of {SHARDS} inbound slots moved in {moved_in:.2f} s under load"
    )
