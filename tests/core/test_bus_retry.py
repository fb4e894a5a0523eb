"""Retries the bus honours, against real Redis 6.2 and 7: ``Retry(after)`` waits that long, keeps
one client's order, counts towards the dead letter, and is requeued exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
import redis.asyncio as aioredis
from pydantic import TypeAdapter

from core import streams
from core.bus import Bus, BusConfig, Consumer, Delivery, Retry
from core.envelope import InboundMessage
from tests.support.stream_entries import stream_entries

ADAPTER: TypeAdapter[InboundMessage] = TypeAdapter(InboundMessage)


def client_key(message: InboundMessage) -> str:
    return f"{message.channel_id}:{message.external_user_id}"


def message(n: int, client: str = "u1") -> InboundMessage:
    return InboundMessage(
        channel_id=1, external_user_id=client, external_message_id=str(n), text=f"hello {n}"
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


class Retrier:
    """Handles entries, asking to retry the listed ones ``times`` times each."""

    def __init__(self, retry: dict[str, int], after: float | None) -> None:
        self.retry = dict(retry)
        self.after = after
        self.handled: list[tuple[str, float]] = []
        self.tries: list[tuple[str, float]] = []

    async def __call__(self, batch: Sequence[Delivery[InboundMessage]]) -> None:
        ids = [d.payload.external_message_id for d in batch]
        now = time.monotonic()
        self.tries += [(i, now) for i in ids]
        for i in ids:
            if self.retry.get(i, 0) > 0:
                if len(ids) == 1:
                    self.retry[i] -= 1
                raise Retry(f"{i} not now", after=self.after)
        self.handled += [(i, now) for i in ids]

    @property
    def order(self) -> list[str]:
        return [i for i, _t in self.handled]


async def run_until(
    consumers: Sequence[Consumer[InboundMessage]], done: Callable[[], object], timeout: float = 10
) -> None:
    tasks = [asyncio.create_task(c.run()) for c in consumers]
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        consumers[0].bus.close()
        await asyncio.gather(*tasks)


async def test_a_retry_after_300_ms_comes_back_after_300_ms_not_after_the_claim_idle_time(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(redis, BusConfig(block_ms=1000, claim_idle_ms=30_000, claim_every_s=3600))
    rec = Retrier({"1": 1}, after=0.3)
    consumer = bus.consumer("s", "g", "c1", rec, ADAPTER, ordering=client_key)
    await bus.publish("s", message(1))
    await run_until([consumer], lambda: rec.handled)
    (first, tried), (again, handled) = rec.tries[0], rec.handled[0]
    assert first == again == "1"
    assert 0.3 <= handled - tried < 1.5  # the claim idle time would have been 30 s
    assert await redis.xpending("s", "g") == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }
    assert await redis.zcard(streams.bus_delayed("s", "g")) == 0


async def test_when_the_first_of_three_entries_of_a_client_retries_the_others_wait_behind_it(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(redis, BusConfig(batch_size=10, block_ms=50, claim_every_s=3600))
    rec = Retrier({"1": 1}, after=0.3)
    consumer = bus.consumer("s", "g", "c1", rec, ADAPTER, ordering=client_key)
    for n in (1, 2, 3):
        await bus.publish("s", message(n))
    await bus.publish("s", message(9, client="u2"))
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(5):
            while rec.order != ["9"]:
                await asyncio.sleep(0.01)
        # A message of the same client that arrives while it is parked queues up too.
        await bus.publish("s", message(4))
        while len(rec.handled) < 5:
            await asyncio.sleep(0.01)
    finally:
        bus.close()
        await task
    # Another client is not held back; the parked client's messages come in their own order.
    assert rec.order == ["9", "1", "2", "3", "4"]


async def test_an_entry_that_retries_forever_reaches_the_dead_letter_stream(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(redis, BusConfig(block_ms=50, max_deliveries=3, claim_every_s=3600))
    rec = Retrier({"1": 1_000}, after=0.05)
    consumer = bus.consumer("s", "g", "c1", rec, ADAPTER, ordering=client_key)
    await bus.publish("s", message(1))
    await bus.publish("s", message(2))  # same client: it waits behind, then goes on
    await run_until([consumer], lambda: rec.handled)
    assert 1_000 - rec.retry["1"] == 3  # asked three times, then dead-lettered
    assert rec.order == ["2"]
    [(_id, dead)] = await stream_entries(redis, streams.dead_letter("s"))
    assert dead["deliveries"] == "3" and "1 not now" in dead["error"]
    assert ADAPTER.validate_json(dead["data"]).external_message_id == "1"
    assert await redis.zcard(streams.bus_delayed("s", "g")) == 0


async def test_a_retry_without_a_wait_follows_the_bus_backoff(redis: aioredis.Redis) -> None:
    from core.backoff import Backoff

    config = BusConfig(block_ms=50, claim_every_s=3600, retry_backoff=Backoff(first_s=0.2))
    bus = Bus(redis, config)
    rec = Retrier({"1": 1}, after=None)
    await bus.publish("s", message(1))
    await run_until([bus.consumer("s", "g", "c1", rec, ADAPTER)], lambda: rec.handled)
    assert rec.handled[0][1] - rec.tries[0][1] >= 0.2


async def test_two_consumers_never_requeue_an_entry_twice(redis: aioredis.Redis) -> None:
    bus = Bus(redis, BusConfig(batch_size=5, block_ms=20, claim_every_s=0))
    retry = {str(n): 1 for n in range(40)}
    rec = Retrier(retry, after=0.05)
    # Without an ordering key each entry is parked on its own, so it is requeued exactly once.
    consumers = [bus.consumer("s", "g", name, rec, ADAPTER) for name in ("a", "b")]
    for n in range(40):
        await bus.publish("s", message(n, client=f"u{n % 7}"))
    await run_until(consumers, lambda: len(rec.handled) >= 40)
    await asyncio.sleep(0.2)  # room for a double, had there been one
    assert sorted(rec.order, key=int) == [str(n) for n in range(40)]  # each exactly once
    assert await redis.xlen("s") == 80  # every entry, and each one requeued once


async def test_racing_requeues_move_each_parked_entry_once(redis: aioredis.Redis) -> None:
    bus = Bus(redis, BusConfig(block_ms=20, claim_every_s=3600))
    rec = Retrier({str(n): 1 for n in range(20)}, after=0.3)
    first = bus.consumer("s", "g", "a", rec, ADAPTER, ordering=client_key)
    second = bus.consumer("s", "g", "b", rec, ADAPTER, ordering=client_key)
    for n in range(20):
        await bus.publish("s", message(n, client=f"u{n}"))
    await bus.ensure_group("s", "g")
    while await redis.zcard(streams.bus_delayed("s", "g")) < 20:
        await first.step()
    await asyncio.sleep(0.35)
    moved = await asyncio.gather(*(c.delayed.requeue(1000) for c in (first, second, first, second)))
    assert sorted(moved) == [0, 0, 0, 20]  # every parked entry, by one of the four
    assert await redis.xlen("s") == 40
    assert await redis.zcard(streams.bus_delayed("s", "g")) == 0


async def test_the_look_for_parked_keys_rides_with_the_read_and_still_holds_an_entry_back(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(redis, BusConfig(batch_size=10, block_ms=20, claim_every_s=3600))
    rec = Retrier({}, after=None)
    reader = bus.consumer("s", "g", "a", rec, ADAPTER, ordering=client_key)
    other = bus.consumer("s", "g", "b", rec, ADAPTER, ordering=client_key)
    await bus.ensure_group("s", "g")
    assert await reader.step() == 0  # its first reclaim and requeue are behind it
    for n in (1, 2):
        await bus.publish("s", message(n, client=f"u{n}"))
    await redis.config_resetstat()
    assert await reader.step() == 2
    stats = await redis.info("commandstats")
    assert "cmdstat_evalsha" not in stats  # nothing parked: no look of its own
    assert "cmdstat_hdel" not in stats  # first deliveries: no failure count to forget
    assert stats["cmdstat_exists"]["calls"] == 1
    # Another consumer of the group parks u1's entry; u1's next one, read after, waits for it.
    parked = Delivery("s", "0-1", message(3, client="u1"), 0)
    await other.delayed.park(other.delayed.entry(parked, 1), wait_s=60)
    await bus.publish("s", message(4, client="u1"))
    await bus.publish("s", message(5, client="u2"))
    await reader.step()
    assert rec.order == ["1", "2", "5"]
    assert await redis.llen(streams.bus_parked_prefix("s", "g") + "k:1:u1") == 2


async def test_a_failure_count_is_forgotten_when_its_reclaimed_entry_is_acked(
    redis: aioredis.Redis,
) -> None:
    failing = {"1"}

    async def handler(batch: Sequence[Delivery[InboundMessage]]) -> None:
        if {d.payload.external_message_id for d in batch} & failing:
            raise RuntimeError("not yet")

    bus = Bus(redis, BusConfig(block_ms=20, claim_every_s=3600))
    consumer = bus.consumer("s", "g", "a", handler, ADAPTER)
    await bus.ensure_group("s", "g")
    await consumer.step()
    await bus.publish("s", message(1))
    await consumer.step()
    failures = streams.bus_failures("s", "g")
    assert list((await redis.hgetall(failures)).values()) == ["1"]
    failing.clear()
    assert await consumer.reclaim(min_idle_ms=0) == 1
    assert await redis.hlen(failures) == 0
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_a_stop_ends_an_ordered_consumer_blocked_in_its_read_and_look(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(redis, BusConfig(block_ms=10_000, claim_every_s=3600))
    consumer = bus.consumer("s", "g", "a", Retrier({}, after=None), ADAPTER, ordering=client_key)
    running = asyncio.create_task(consumer.run())
    async with asyncio.timeout(5):
        while not any("b" in c["flags"] for c in await redis.client_list()):  # blocked
            await asyncio.sleep(0.01)
    bus.close()
    await asyncio.wait_for(running, 2)
    # The cancelled pipeline's connection was closed: no stale reply answers the next command.
    await redis.set("after-stop", "yes")
    assert await redis.get("after-stop") == "yes"
    assert await redis.exists("after-stop") == 1
