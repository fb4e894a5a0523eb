"""Keys an older Openlines wrote, renamed once at start to today's cluster-ready names."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from core import streams
from core.envelope import TimerFired, decode
from core.key_upgrade import DONE_KEY, do_rename_old_keys, renamed
from core.timers import Timers
from tests.support.stream_entries import stream_entries

DUE = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def test_old_names_map_to_names_in_their_streams_slot() -> None:
    assert renamed("timers:due") == "{timers}:due"
    assert renamed("timers:payload") == "{timers}:payload"
    assert renamed("dlq.in.3") == "dlq.{in.3}"
    assert renamed("bus:failures:in.3:router") == "bus:failures:{in.3}:router"
    assert renamed("bus:delayed:out.telegram:connectors") == (
        "bus:delayed:{out.telegram}:connectors"
    )
    assert renamed("bus:parked:in.3:router:k:7:abc") == "bus:parked:{in.3}:router:k:7:abc"
    assert renamed("seen:telegram:5:upd:1") == "seen:{raw.telegram}:5:upd:1"
    for current in ("dlq.{in.3}", "bus:failures:{in.3}:router", "seen:{raw.vk}:5:1"):
        assert renamed(current) is None
    for other in ("in.3", "presence:choice:4", "lease:router:{in.3}", "seen:vk:x:1", "dlq."):
        assert renamed(other) is None


async def old_deployment(redis: aioredis.Redis) -> None:
    """What an older hub left behind: a pending timer, a failing shard entry and its dead
    letters, a parked retry, and an update's dedupe mark."""
    doc = {"type": "timer.fired", "v": 1, "key": "offer:9", "due_at": DUE.isoformat(),
           "payload": {"dialog_id": 9}}  # fmt: skip
    await redis.hset("timers:payload", "offer:9", json.dumps(doc))
    await redis.zadd("timers:due", {"offer:9": int(DUE.timestamp() * 1000)})
    await redis.hset("bus:failures:in.0:router", "1-0", 2)
    await redis.xadd("dlq.in.0", {"data": "{}", "error": "boom"})
    await redis.zadd("bus:delayed:in.0:router", {"k:1:v": 1})
    await redis.rpush("bus:parked:in.0:router:k:1:v", "1:{}")
    await redis.set("seen:telegram:5:77", "1", ex=600)


async def test_old_keys_are_renamed_once_and_read_by_todays_code(redis: aioredis.Redis) -> None:
    await old_deployment(redis)
    await redis.hset(streams.bus_failures("in.1", "router"), "2-0", 1)  # already today's name

    assert await do_rename_old_keys(redis) == 7
    assert await redis.exists("timers:due", "timers:payload", "dlq.in.0", "seen:telegram:5:77") == 0
    assert await redis.hget(streams.bus_failures("in.0", "router"), "1-0") == "2"
    assert await redis.xlen(streams.dead_letter("in.0")) == 1
    assert await redis.zcard(streams.bus_delayed("in.0", "router")) == 1
    parked = streams.bus_parked_prefix("in.0", "router") + "k:1:v"
    assert await redis.lrange(parked, 0, -1) == ["1:{}"]
    assert await redis.exists(streams.update_seen("telegram", 5, "77")) == 1
    assert await redis.ttl(streams.update_seen("telegram", 5, "77")) > 0

    # The timer the old hub scheduled fires from its new keys.
    timers = Timers(redis)
    assert await timers.due_at("offer:9") == DUE
    assert await timers.fire_due(DUE) == 1
    [(_id, fields)] = await stream_entries(redis, streams.TIMERS)
    fired = decode(fields["data"])
    assert isinstance(fired, TimerFired) and fired.key == "offer:9"

    # Once done, a later start does not look again, even at a key with an old name.
    assert await redis.get(DONE_KEY) == "2"
    await redis.hset("bus:failures:in.2:router", "3-0", 1)
    assert await do_rename_old_keys(redis) == 0
    assert await redis.exists("bus:failures:in.2:router") == 1


async def test_an_old_key_whose_new_name_is_taken_is_left_alone(redis: aioredis.Redis) -> None:
    await redis.hset("bus:failures:in.0:router", "1-0", 2)
    await redis.hset(streams.bus_failures("in.0", "router"), "9-0", 1)
    assert await do_rename_old_keys(redis) == 0
    assert await redis.hgetall(streams.bus_failures("in.0", "router")) == {"9-0": "1"}
    assert await redis.hgetall("bus:failures:in.0:router") == {"1-0": "2"}
