"""Timers in a real Redis: fire once, even with two loops racing; cancel; reschedule; a batch
of changes in one step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from core.envelope import TimerFired, decode
from core.timers import Arm, Disarm, Timers
from tests.support.stream_entries import stream_entries

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def fired(redis: aioredis.Redis) -> list[TimerFired]:
    out = []
    for _id, fields in await stream_entries(redis, "timers"):
        payload = decode(fields["data"])
        assert isinstance(payload, TimerFired)
        out.append(payload)
    return out


async def test_a_timer_fires_when_due_and_not_before(redis: aioredis.Redis) -> None:
    timers = Timers(redis)
    await timers.schedule("no-answer:7", T0 + timedelta(seconds=60), {"dialog_id": 7})
    assert await timers.fire_due(T0 + timedelta(seconds=59)) == 0
    assert await timers.fire_due(T0 + timedelta(seconds=60)) == 1
    [timer] = await fired(redis)
    assert timer.key == "no-answer:7"
    assert timer.payload == {"dialog_id": 7}
    assert timer.due_at == T0 + timedelta(seconds=60)
    assert await timers.fire_due(T0 + timedelta(hours=1)) == 0
    assert await timers.due_at("no-answer:7") is None


async def test_two_timer_loops_fire_each_timer_exactly_once(redis_url: str) -> None:
    clients = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(2)]
    loops = [Timers(c) for c in clients]
    for n in range(300):
        await loops[0].schedule(f"t{n}", T0 + timedelta(milliseconds=n), {"n": n})

    async def race(timers: Timers) -> int:
        # Both loops work the same backlog at once, a few timers per call, as two hub
        # processes would after a restart.
        total = 0
        while fired := await timers.fire_due(T0 + timedelta(seconds=1), limit=5):
            total += fired
            await asyncio.sleep(0)
        return total

    counts = await asyncio.gather(race(loops[0]), race(loops[1]))
    assert sum(counts) == 300
    assert min(counts) > 0  # both loops really took part
    keys = [t.key for t in await fired(clients[0])]
    assert sorted(keys) == sorted(f"t{n}" for n in range(300))
    for c in clients:
        await c.aclose()


async def test_cancel_and_reschedule(redis: aioredis.Redis) -> None:
    timers = Timers(redis)
    await timers.schedule("a", T0, {"x": "1"})
    assert await timers.cancel("a") is True
    assert await timers.cancel("a") is False
    await timers.schedule("b", T0, {"x": "1"})
    await timers.schedule("b", T0 + timedelta(minutes=5), {"x": "2"})  # moves it
    assert await timers.fire_due(T0 + timedelta(minutes=1)) == 0
    assert await timers.due_at("b") == T0 + timedelta(minutes=5)
    assert await timers.fire_due(T0 + timedelta(minutes=5)) == 1
    assert [t.payload for t in await fired(redis)] == [{"x": "2"}]


async def test_timers_survive_a_new_client(redis_url: str) -> None:
    first = aioredis.from_url(redis_url, decode_responses=True)
    await Timers(first).schedule("close:1", T0, {"dialog_id": 1})
    await first.aclose()
    second = aioredis.from_url(redis_url, decode_responses=True)
    assert await Timers(second).fire_due(T0) == 1
    await second.aclose()


async def test_a_batch_of_changes_applies_in_order_in_one_step(redis: aioredis.Redis) -> None:
    timers = Timers(redis)
    await timers.schedule("kept", T0, {"x": "first"})
    outcome = await timers.apply(
        [
            Arm("a", T0, {"x": "1"}),
            Disarm("a"),  # after its arm: gone again
            Disarm("never"),
            Arm("kept", T0 + timedelta(minutes=9), {"x": "second"}, if_absent=True),
            Arm("b", T0, {"x": "1"}),
            Arm("b", T0 + timedelta(minutes=2), {"x": "2"}),  # the later one wins
        ]
    )
    assert outcome == [True, True, False, True, True, True]
    assert await timers.due_at("a") is None
    assert await timers.due_at("kept") == T0
    assert await timers.due_at("b") == T0 + timedelta(minutes=2)
    assert await timers.fire_due(T0 + timedelta(minutes=2)) == 2
    assert sorted(str(t.payload["x"]) for t in await fired(redis)) == ["2", "first"]


async def commands(redis: aioredis.Redis) -> dict[str, int]:
    """Calls per command since the last ``CONFIG RESETSTAT``, scripts' own calls included."""
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def test_a_batch_cancels_each_timer_with_one_removal_and_none_for_the_unarmed(
    redis: aioredis.Redis,
) -> None:
    timers = Timers(redis)
    armed = [f"remind:{n}" for n in range(1200)]  # more than one run of the script's cut
    await timers.apply([Arm(key, T0, {"n": key}) for key in armed])
    changes: list[Arm | Disarm] = [Disarm(k) for k in armed[:700]]
    changes += [Disarm("noanswer:1"), Disarm(armed[0]), Arm("offer:1", T0, {}), Disarm("offer:1")]
    changes += [Disarm(k) for k in armed[700:]]
    await redis.config_resetstat()
    outcome = await timers.apply(changes)
    calls = await commands(redis)
    assert outcome == [True] * 700 + [False, False, True, True] + [True] * 500
    assert await redis.zcard("{timers}:due") == 0
    assert await redis.hlen("{timers}:payload") == 0
    assert await timers.fire_due(T0 + timedelta(days=1)) == 0
    # Runs of 500, 202 (cut by the arm), 500 and 1 disarms: one look, removal and HDEL each.
    assert calls["zmscore"] == 4
    assert calls["zrem"] == calls["hdel"] == 4
    await redis.config_resetstat()
    assert await timers.apply([Disarm("noanswer:2"), Disarm("noanswer:3")]) == [False, False]
    calls = await commands(redis)
    assert "zrem" not in calls and "hdel" not in calls


async def test_changes_sent_with_other_writes_survive_a_redis_without_the_script(
    redis: aioredis.Redis,
) -> None:
    timers = Timers(redis)
    await timers.apply([Arm("warm", T0, {})])  # the script is loaded now ...
    await redis.script_flush()  # ... and gone, as after a Redis restart
    changes: list[Arm | Disarm] = [Disarm("warm"), Arm("c", T0, {"x": "1"})]
    pipe = redis.pipeline(transaction=False)
    pipe.set("neighbour", "1")
    timers.queue(pipe, changes)
    neighbour, reply = await pipe.execute(raise_on_error=False)
    assert neighbour is True
    assert await timers.settle(reply, changes) == [True, True]
    assert await timers.due_at("warm") is None
    assert await timers.due_at("c") == T0


async def test_the_clock_sleeps_until_the_next_timer_and_wakes_for_a_sooner_arm(
    redis: aioredis.Redis,
) -> None:
    """With a 60 s cap on its sleep, only the next due time and this process's arms can make
    the clock fire these within seconds."""
    stopping = asyncio.Event()
    start = datetime.now(UTC)
    await Timers(redis).schedule("later", start + timedelta(seconds=3), {"dialog_id": 1})
    clock = asyncio.create_task(Timers(redis).run(stopping, interval_s=60))
    try:
        await asyncio.sleep(0.3)  # the clock is asleep until "later" is due
        await Timers(redis).schedule("sooner", datetime.now(UTC), {"dialog_id": 2})
        async with asyncio.timeout(2):
            while len(await fired(redis)) < 1:
                await asyncio.sleep(0.02)
        assert [t.key for t in await fired(redis)] == ["sooner"]
        async with asyncio.timeout(5):
            while len(await fired(redis)) < 2:
                await asyncio.sleep(0.02)
        assert [t.key for t in await fired(redis)] == ["sooner", "later"]
        assert datetime.now(UTC) >= start + timedelta(seconds=3)
    finally:
        stopping.set()
        await asyncio.wait_for(clock, 5)
