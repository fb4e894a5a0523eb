"""The timer clock keeps running across a restart of a real redis-server with AOF: a timer due
during the outage fires once Redis is back, and the outage costs one log line, not a
traceback every 0.2 s."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from core import streams
from core.redis_server import EmbeddedRedis
from core.timers import Timers

pytestmark = pytest.mark.servers


async def test_a_timer_due_during_an_outage_fires_once_redis_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    await server.start()
    client = aioredis.from_url(server.url)
    stopping = asyncio.Event()
    timers = Timers(client)
    await timers.schedule("no-answer:7", datetime.now(UTC) + timedelta(seconds=1), {"dialog_id": 7})
    clock = asyncio.create_task(timers.run(stopping, interval_s=0.05))
    try:
        with caplog.at_level(logging.WARNING):
            await server.stop()
            await asyncio.sleep(1.5)  # the timer falls due meanwhile
            assert not clock.done()
            await server.start()
            async with asyncio.timeout(15):
                while not await client.xlen(streams.TIMERS):
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
        assert await client.xlen(streams.TIMERS) == 1
        lost = [r for r in caplog.records if "lost Redis" in r.getMessage()]
        assert len(lost) == 1 and "timer clock" in lost[0].getMessage()
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        stopping.set()
        await asyncio.wait_for(clock, 5)
        await client.aclose()
        await server.stop()
