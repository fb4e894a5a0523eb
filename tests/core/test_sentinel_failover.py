"""A Redis master killed with ``kill -9`` under widget load: Sentinel promotes the replica, every
component of the hub follows, and every message the widget was told "accepted" is stored and
shown to the operator exactly once.

The widget's "accepted" waits for ``WAIT 1`` (a replica has the message), so the window that
asynchronous replication leaves — entries the old master acknowledged and never passed on — holds
no acknowledged message. The test prints what it measured: that window at the moment of the kill,
and what the wait costs per message.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from config.settings import Settings
from core.app_keys import BUS, SESSIONS
from core.db.schema import Message
from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient
from tests.support.sentinel_group import SentinelGroup, answers

pytestmark = [pytest.mark.servers, pytest.mark.timeout(90)]

VISITORS = 4


class LoadVisitor:
    """A widget that sends numbered messages and, like the widget's outbox, sends a message
    again (same ``client_msg_id``) until the hub says "accepted"."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.accepted: list[str] = []

    async def connect(self) -> None:
        url = self.base.replace("http", "ws", 1) + "/widget/ws?channel=demo"
        self.ws = await self.http.ws_connect(url)
        await self.ws.send_json({"type": "hello"})
        while (await self.ws.receive_json(timeout=10))["type"] != "welcome":
            pass

    async def send(self, text: str) -> float:
        """Send until accepted; returns the seconds the last (accepted) try took."""
        assert self.ws is not None
        cid = uuid.uuid4().hex
        while True:
            started = time.perf_counter()
            await self.ws.send_json({"type": "message", "client_msg_id": cid, "text": text})
            if await self._answer(cid) == "accepted":
                self.accepted.append(cid)
                return time.perf_counter() - started
            await asyncio.sleep(0.1)  # the widget's outbox waits a little before sending again

    async def _answer(self, cid: str) -> str:
        assert self.ws is not None
        while True:
            frame = await self.ws.receive_json(timeout=15)
            if frame.get("client_msg_id") == cid and frame["type"] in ("accepted", "error"):
                return str(frame["type"])

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    redis = SentinelGroup(tmp_path / "redis")
    try:
        redis.start()
        yield redis
    finally:
        redis.stop()


@pytest.fixture
async def hub(group: SentinelGroup, tmp_path: Path) -> AsyncIterator[TestServer]:
    settings = Settings(
        redis_url=group.url,
        data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD,
        inbound_shards=2,
        claim_idle_ms=500,
        lease_ttl_ms=3000,
        bus_block_ms=100,
        redis_wait_replicas_ms=1000,
    )
    server = TestServer(build_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def _unreplicated_bytes(group: SentinelGroup) -> int:
    """How far the replica is behind the master's replication stream, in bytes."""

    def offset(port: int, field: str) -> int:
        for line in answers(port, b"INFO replication\r\n").decode().split("\r\n"):
            if line.startswith(field + ":"):
                return int(line.split(":")[1])
        return 0

    return offset(group.master.port, "master_repl_offset") - offset(
        group.replica.port, "slave_repl_offset"
    )


async def _wait_cost(hub: TestServer, rounds: int = 200) -> tuple[list[float], list[float]]:
    """Seconds per XADD with and without ``WAIT 1``, interleaved so that noise hits both."""
    bus = hub.app[BUS]
    fields: dict[Any, Any] = {"probe": "x"}
    with_wait: list[float] = []
    without: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        await bus.replicated.xadd("probe", fields, 1000)
        with_wait.append(time.perf_counter() - started)
        started = time.perf_counter()
        await bus.redis.xadd("probe", fields, maxlen=1000, approximate=True)
        without.append(time.perf_counter() - started)
    return with_wait, without


async def _load(visitors: list[LoadVisitor], until: asyncio.Event) -> None:
    async def one(visitor: LoadVisitor) -> None:
        n = 0
        while not until.is_set():
            n += 1
            await visitor.send(f"load {n}")

    await asyncio.gather(*(one(v) for v in visitors))


async def test_a_killed_master_loses_no_accepted_message(
    group: SentinelGroup, hub: TestServer
) -> None:
    base = str(hub.make_url("")).rstrip("/")
    admin = OperatorClient(base)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.wait_status("online")
    visitors = [LoadVisitor(base) for _ in range(VISITORS)]
    for visitor in visitors:
        await visitor.connect()

    with_wait, without = await _wait_cost(hub)

    stop = asyncio.Event()
    load = asyncio.create_task(_load(visitors, stop))
    before = sum(len(v.accepted) for v in visitors)
    while sum(len(v.accepted) for v in visitors) < before + 40:
        await asyncio.sleep(0.02)
    window = _unreplicated_bytes(group)
    old_master = group.master.port
    group.master.kill()
    killed_at = time.monotonic()
    while group.master_port_now() in (old_master, None):
        await asyncio.sleep(0.05)
    promoted_after = time.monotonic() - killed_at
    after_kill = sum(len(v.accepted) for v in visitors)
    while sum(len(v.accepted) for v in visitors) < after_kill + 40:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(load, 30)

    accepted = [cid for v in visitors for cid in v.accepted]
    assert len(set(accepted)) == len(accepted)
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
    assert set(stored.values()) == {1}, "an accepted message was stored twice"

    # What the operator's console shows: each dialog's messages, each accepted one once.
    status, listing = await admin.call("GET", "/api/dialogs?status=all")
    assert status == 200, listing
    shown: Counter[str] = Counter()
    for dialog in listing["dialogs"]:
        _status, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
        shown.update(m["client_msg_id"] for m in body["messages"] if m["author"] == "client")
    assert all(shown[cid] == 1 for cid in accepted)

    print(
        f"\nsentinel failover: {len(accepted)} accepted, all stored and shown once; "
        f"promoted {promoted_after:.1f} s after kill -9; unreplicated at the kill: {window} bytes; "
        f"XADD median {statistics.median(with_wait) * 1000:.2f} ms with WAIT 1, "
        f"{statistics.median(without) * 1000:.2f} ms without; p95 "
        f"{statistics.quantiles(with_wait, n=20)[-1] * 1000:.2f} / "
        f"{statistics.quantiles(without, n=20)[-1] * 1000:.2f} ms"
    )
    for visitor in visitors:
        await visitor.close()
    await admin.close()
