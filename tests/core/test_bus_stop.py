"""The bus's stop flag: a blocked read ends at once on a stop, with no task watching the flag."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.bus_tail import Stopping, until_stopped


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def _blocked(redis: aioredis.Redis, stopping: asyncio.Event, stream: str) -> object:
    return await until_stopped(partial(redis.xread, {stream: "$"}, block=10_000), stopping)


async def _until_blocked(stream: str, redis: aioredis.Redis) -> None:
    async with asyncio.timeout(5):
        while not any(c.get("cmd") == "xread" for c in await redis.client_list()):
            await asyncio.sleep(0.01)


async def test_a_stop_ends_a_blocked_read_with_no_task_watching_the_flag(
    redis: aioredis.Redis, redis_url: str
) -> None:
    """The read's own task and nothing else: no watcher of the flag to race it against."""
    reader = aioredis.from_url(redis_url, decode_responses=True)
    stopping = Stopping()
    before = len(asyncio.all_tasks())
    reading = asyncio.create_task(_blocked(reader, stopping, "stop-quiet"))
    await _until_blocked("stop-quiet", redis)
    assert len(asyncio.all_tasks()) == before + 2  # the reader and its read
    stopping.set()
    assert await asyncio.wait_for(reading, 2) is None
    assert await reader.ping()  # the cancelled read's connection was closed, not left half read
    await reader.aclose()


async def test_a_reply_that_came_first_is_returned(redis: aioredis.Redis) -> None:
    stopping = Stopping()
    await redis.xadd("stop-busy", {"data": "x"})
    reply: Any = await until_stopped(
        partial(redis.xread, {"stop-busy": "0"}, block=10_000), stopping
    )
    assert reply and reply[0][1][0][1] == {"data": "x"}


async def test_a_cancel_from_elsewhere_is_not_swallowed_by_a_stop(
    redis: aioredis.Redis, redis_url: str
) -> None:
    reader = aioredis.from_url(redis_url, decode_responses=True)
    stopping = Stopping()
    reading = asyncio.create_task(_blocked(reader, stopping, "stop-both"))
    await _until_blocked("stop-both", redis)
    reading.cancel()
    stopping.set()
    with pytest.raises(asyncio.CancelledError):
        await reading
    await reader.aclose()


async def test_a_plain_event_still_stops_a_read(redis: aioredis.Redis, redis_url: str) -> None:
    reader = aioredis.from_url(redis_url, decode_responses=True)
    stopping = asyncio.Event()
    reading = asyncio.create_task(_blocked(reader, stopping, "stop-plain"))
    await _until_blocked("stop-plain", redis)
    stopping.set()
    assert await asyncio.wait_for(reading, 2) is None
    await reader.aclose()


async def _sent_then_blocked(
    sent: asyncio.Future[None], redis: aioredis.Redis, stream: str
) -> object:
    # redis-py sends each command under ``asyncio.wait_for``; this wait stands for the send.
    await asyncio.wait_for(sent, 5)
    return await redis.xread({stream: "$"}, block=10_000)


async def test_a_stop_that_comes_as_the_command_is_sent_still_ends_the_read(
    redis_url: str,
) -> None:
    """On Python 3.11, ``wait_for`` drops a cancel that comes as its awaitable ends: the read
    then went on to wait out its whole block, and so did every stop of the hub that came
    while consumers were starting (3 s, the bus's block, on each)."""
    reader = aioredis.from_url(redis_url, decode_responses=True)
    stopping = Stopping()
    sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    reading = asyncio.create_task(
        until_stopped(partial(_sent_then_blocked, sent, reader, "stop-sending"), stopping)
    )
    await asyncio.sleep(0.05)
    sent.set_result(None)
    stopping.set()  # before the read's task has seen the send end
    assert await asyncio.wait_for(reading, 2) is None
    await reader.aclose()


async def test_a_read_asked_for_after_the_stop_ends_at_once(redis: aioredis.Redis) -> None:
    stopping = Stopping()
    stopping.set()
    read = until_stopped(partial(redis.xread, {"stop-late": "$"}, block=10_000), stopping)
    assert await asyncio.wait_for(read, 2) is None


@pytest.mark.parametrize("flag", [Stopping, asyncio.Event])
async def test_a_read_stopped_before_its_task_ran_leaves_no_command_unawaited(
    redis: aioredis.Redis, flag: type[asyncio.Event]
) -> None:
    """redis-py makes a stream read's command at once and awaits it inside a coroutine of its
    own; cancelled before that ran, the command was never awaited (a warning at such stops)."""
    stopping = flag()
    group_read = partial(
        redis.xreadgroup, "g", "c", {"stop-early": ">"}, block=10_000
    )  # its group need not exist: the read must never be sent
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reading = asyncio.ensure_future(until_stopped(group_read, stopping))
        await asyncio.sleep(0)  # the reader has made the read's task, which has not run yet
        assert not reading.done()
        stopping.set()
        assert await asyncio.wait_for(reading, 2) is None
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
