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
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from core.app_keys import BUS
from tests.support.ha_hub import (
    Load,
    assert_each_stored_and_shown_once,
    hub_on,
    hub_people,
    running,
)
from tests.support.sentinel_group import SentinelGroup, answers

pytestmark = [pytest.mark.servers, pytest.mark.timeout(90)]

VISITORS = 4


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    with running(SentinelGroup(tmp_path / "redis")) as redis:
        yield redis


@pytest.fixture
async def hub(group: SentinelGroup, tmp_path: Path) -> AsyncIterator[TestServer]:
    async with hub_on(group, tmp_path, inbound_shards=2, redis_wait_replicas_ms=1000) as server:
        yield server


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


async def test_a_killed_master_loses_no_accepted_message(
    group: SentinelGroup, hub: TestServer
) -> None:
    async with hub_people(hub, VISITORS) as (admin, visitors):
        with_wait, without = await _wait_cost(hub)

        load = Load(visitors)
        await load.more(40)
        window = _unreplicated_bytes(group)
        old_master = group.master.port
        group.master.kill()
        killed_at = time.monotonic()
        while group.master_port_now() in (old_master, None):
            await asyncio.sleep(0.05)
        promoted_after = time.monotonic() - killed_at
        await load.more(40)
        accepted = await load.finish()
        await assert_each_stored_and_shown_once(hub, admin, accepted)

    print(
        f"\nsentinel failover: {len(accepted)} accepted, all stored and shown once; "
        f"promoted {promoted_after:.1f} s after kill -9; unreplicated at the kill: {window} bytes; "
        f"XADD median {statistics.median(with_wait) * 1000:.2f} ms with WAIT 1, "
        f"{statistics.median(without) * 1000:.2f} ms without; p95 "
        f"{statistics.quantiles(with_wait, n=20)[-1] * 1000:.2f} / "
        f"{statistics.quantiles(without, n=20)[-1] * 1000:.2f} ms"
    )
