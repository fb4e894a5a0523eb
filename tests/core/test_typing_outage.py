"""A typing listener subscribes again after a restart of a real redis-server: signals sent once
Redis is back arrive, and the outage costs one log line, not a traceback per attempt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from core import typing_signals
from core.redis_server import EmbeddedRedis

CHANNEL = typing_signals.VISITOR_TYPING


async def test_a_listener_hears_signals_after_redis_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    await server.start()
    client = aioredis.from_url(server.url)
    stopping = asyncio.Event()
    heard: list[int] = []

    async def handle(signal: typing_signals.Signal) -> None:
        heard.append(int(signal["dialog_id"]))

    async def send_until_heard(dialog_id: int) -> None:
        # Pub/sub keeps nothing: keep sending until the (re)subscribed listener hears one.
        async with asyncio.timeout(15):
            while dialog_id not in heard:
                # The pool's connection from before the restart fails once, as a sender's would.
                with contextlib.suppress(RedisConnectionError):
                    await typing_signals.publish(client, CHANNEL, {"dialog_id": dialog_id})
                await asyncio.sleep(0.05)

    listener = asyncio.create_task(typing_signals.listen(client, CHANNEL, handle, stopping))
    try:
        await send_until_heard(1)
        with caplog.at_level(logging.WARNING, logger="core.outage"):
            await server.stop()
            await asyncio.sleep(1.5)  # several failed attempts to subscribe again
            assert not listener.done()
            await server.start()
            await send_until_heard(2)
        lost = [r for r in caplog.records if "lost Redis" in r.getMessage()]
        assert len(lost) == 1 and "listener of typing:visitor" in lost[0].getMessage()
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        stopping.set()
        await asyncio.wait_for(listener, 5)
        await client.aclose()
        await server.stop()
