"""The bus against real Redis 6.2 and 7: batching, acks, reclaim, dead letters, bounds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import TypeAdapter

from core import streams
from core.bus import Bus, BusConfig, Delivery, Permanent
from core.envelope import InboundMessage
from tests.support.stream_entries import stream_entries

ADAPTER: TypeAdapter[InboundMessage] = TypeAdapter(InboundMessage)


def message(n: int) -> InboundMessage:
    return InboundMessage(
        channel_id=1, external_user_id="u1", external_message_id=str(n), text=f"hello {n}"
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


class Recorder:
    def __init__(self, fail_on: frozenset[str] = frozenset(), permanent: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.permanent = permanent

    async def __call__(self, batch: Sequence[Delivery[InboundMessage]]) -> None:
        ids = [d.payload.external_message_id for d in batch]
        if self.fail_on.intersection(ids):
            raise (Permanent if self.permanent else RuntimeError)(f"cannot handle {ids}")
        self.batches.append(ids)

    @property
    def handled(self) -> list[str]:
        return [i for b in self.batches for i in b]


async def test_reads_in_batches_and_acks_after_handling(redis: aioredis.Redis) -> None:
    bus = Bus(redis, BusConfig(batch_size=50, block_ms=50))
    for n in range(120):
        await bus.publish("s", message(n))
    rec = Recorder()
    consumer = bus.consumer("s", "g", "c1", rec, ADAPTER)
    await bus.ensure_group("s", "g")
    while len(rec.handled) < 120:
        await consumer.step()
    assert [len(b) for b in rec.batches] == [50, 50, 20]
    assert rec.handled == [str(n) for n in range(120)]
    pending = await redis.xpending("s", "g")
    assert pending["pending"] == 0


async def test_a_lone_message_is_handled_without_waiting_for_a_batch(redis: aioredis.Redis) -> None:
    bus = Bus(redis, BusConfig(batch_size=100, block_ms=60_000))
    await bus.ensure_group("s", "g")
    rec = Recorder()
    consumer = bus.consumer("s", "g", "c1", rec, ADAPTER)
    step = asyncio.create_task(consumer.step())
    await asyncio.sleep(0.05)
    await bus.publish("s", message(1))
    # The read blocks for up to a minute, but returns as soon as one entry arrives.
    assert await asyncio.wait_for(step, 5) == 1
    assert rec.handled == ["1"]


async def test_poison_entry_does_not_block_its_neighbours_and_is_dead_lettered(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(
        redis,
        BusConfig(batch_size=10, block_ms=20, claim_idle_ms=0, claim_every_s=0, max_deliveries=3),
    )
    await bus.ensure_group("s", "g")
    for n in range(5):
        await bus.publish("s", message(n))
    rec = Recorder(fail_on=frozenset({"2"}))
    consumer = bus.consumer("s", "g", "c1", rec, ADAPTER)
    for _ in range(6):
        await consumer.step()
    assert sorted(rec.handled) == ["0", "1", "3", "4"]
    dead = await stream_entries(redis, streams.dead_letter("s"))
    assert len(dead) == 1
    fields = dead[0][1]
    assert '"external_message_id":"2"' in fields["data"]
    assert "RuntimeError: cannot handle ['2']" in fields["error"]
    assert fields["deliveries"] == "3"
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_permanent_error_is_dead_lettered_at_once(redis: aioredis.Redis) -> None:
    bus = Bus(redis, BusConfig(block_ms=20, max_deliveries=5))
    await bus.ensure_group("s", "g")
    await bus.publish("s", message(7))
    consumer = bus.consumer("s", "g", "c1", Recorder(frozenset({"7"}), permanent=True), ADAPTER)
    await consumer.step()
    assert await redis.xlen(streams.dead_letter("s")) == 1
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_malformed_entry_goes_to_dead_letters_and_the_rest_is_handled(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(redis, BusConfig(block_ms=20))
    await bus.ensure_group("s", "g")
    await bus.publish("s", message(1))
    await redis.xadd("s", {"data": '{"type": "inbound.message", "v": 1, "channel_id": "x"}'})
    await redis.xadd("s", {"wrong": "field"})
    await bus.publish("s", message(2))
    rec = Recorder()
    await bus.consumer("s", "g", "c1", rec, ADAPTER).step()
    assert rec.handled == ["1", "2"]
    dead = await stream_entries(redis, streams.dead_letter("s"))
    assert [d[1]["error"].split(":")[0] for d in dead] == ["malformed entry", "malformed entry"]
    assert "channel_id" in dead[0][1]["error"]


async def test_entries_of_a_dead_consumer_are_reclaimed(redis: aioredis.Redis) -> None:
    bus = Bus(redis, BusConfig(block_ms=20, claim_idle_ms=100, claim_every_s=0))
    await bus.ensure_group("s", "g")
    for n in range(3):
        await bus.publish("s", message(n))
    # c1 reads the entries and dies before acking them.
    await redis.xreadgroup("g", "c1", {"s": ">"}, count=10)
    rec = Recorder()
    survivor = bus.consumer("s", "g", "c2", rec, ADAPTER)
    assert await survivor.reclaim() == 0  # not idle long enough yet
    await asyncio.sleep(0.15)
    assert await survivor.reclaim() == 3
    assert rec.handled == ["0", "1", "2"]
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_names_of_consumers_long_gone_are_forgotten_but_not_a_holder_of_entries(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(redis, BusConfig(block_ms=20, claim_every_s=3600, forget_idle_ms=300,
                               forget_every_s=0))  # fmt: skip
    await bus.ensure_group("s", "g")
    for n in range(3):
        await bus.publish("s", message(n))
    await redis.xreadgroup("g", "holder", {"s": ">"}, count=1)  # dies holding entry 0
    gone: Any = await redis.xreadgroup("g", "gone", {"s": ">"}, count=1)
    await redis.xack("s", "g", gone[0][1][0][0])  # dies with nothing in hand
    live = bus.consumer("s", "g", "live", Recorder(), ADAPTER)
    await live.step()

    async def names() -> set[str]:
        return {c["name"] for c in await redis.xinfo_consumers("s", "g")}

    assert await names() == {"holder", "gone", "live"}  # nobody idle long enough yet
    await asyncio.sleep(0.35)
    await live.step()
    assert await names() == {"holder", "live"}
    assert (await redis.xpending("s", "g"))["pending"] == 1


async def test_a_restarted_consumer_first_handles_its_own_pending_entries(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(redis, BusConfig(block_ms=20, claim_every_s=3600))
    await bus.ensure_group("s", "g")
    await bus.publish("s", message(1))
    await redis.xreadgroup("g", "c1", {"s": ">"}, count=10)
    rec = Recorder()
    await bus.consumer("s", "g", "c1", rec, ADAPTER).step(pending_first=True)
    assert rec.handled == ["1"]


async def test_reclaim_acks_entries_trimmed_while_pending(redis: aioredis.Redis) -> None:
    bus = Bus(redis, BusConfig(block_ms=20, claim_idle_ms=0, claim_every_s=0))
    await bus.ensure_group("s", "g")
    entry = await bus.publish("s", message(1))
    await redis.xreadgroup("g", "c1", {"s": ">"}, count=10)
    await redis.xdel("s", entry)
    rec = Recorder()
    await bus.consumer("s", "g", "c2", rec, ADAPTER).reclaim()
    assert rec.handled == []
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_streams_are_bounded(redis: aioredis.Redis) -> None:
    bus = Bus(redis, BusConfig(maxlen=1000))
    for start in range(0, 5000, 500):
        await bus.publish_many([("s", message(n)) for n in range(start, start + 500)])
    length = await redis.xlen("s")
    # Trimming is approximate (whole macro nodes), never unbounded.
    assert 1000 <= length < 1500


async def test_tail_sees_new_entries_and_skips_malformed(redis: aioredis.Redis) -> None:
    bus = Bus(redis)
    await bus.publish("events", message(0))  # before the tail starts: not seen
    seen: list[str] = []

    async def read() -> None:
        async for _id, payload in bus.tail("events", block_ms=50):
            assert isinstance(payload, InboundMessage)
            seen.append(payload.external_message_id)
            if len(seen) == 2:
                return

    task = asyncio.create_task(read())
    await asyncio.sleep(0.1)
    await bus.publish("events", message(1))
    await redis.xadd("events", {"data": "not json"})
    await bus.publish("events", message(2))
    await asyncio.wait_for(task, 5)
    assert seen == ["1", "2"]


async def test_tail_never_rereads_from_dollar(redis_url: str) -> None:
    """A regression: the tail re-read with "$" after every empty read, so an entry added
    between two reads was never seen, and the console missed the first event after a quiet
    start. Redis's MONITOR shows the ids the tail really asks for."""
    reader = aioredis.from_url(redis_url, decode_responses=True)
    watcher = aioredis.from_url(redis_url, decode_responses=True)
    bus = Bus(reader)
    await bus.publish("events", message(0))
    seen: list[str] = []

    async def watch() -> None:
        async with watcher.monitor() as monitor:
            async for command in monitor.listen():
                if command["command"].upper().startswith("XREAD "):
                    seen.append(command["command"])

    monitoring = asyncio.create_task(watch())
    await asyncio.sleep(0.1)

    async def read() -> None:
        async for _id, _payload in bus.tail("events", block_ms=20):
            return

    tail = asyncio.create_task(read())
    await asyncio.sleep(0.5)  # several empty reads
    await bus.publish("events", message(1))
    await asyncio.wait_for(tail, 5)
    monitoring.cancel()
    assert len(seen) >= 2
    assert not [c for c in seen if c.endswith(" $")], seen
    await reader.aclose()
    await watcher.aclose()


async def test_a_stop_cancels_long_reads_of_consumers_and_tails_at_once(
    redis: aioredis.Redis,
) -> None:
    """Quiet streams are read in long blocks (an idle hub wakes less); closing the bus must
    not wait for them to end."""
    bus = Bus(redis, BusConfig(block_ms=4000))
    await bus.ensure_group("quiet", "g")
    rec = Recorder()
    consumer = asyncio.create_task(bus.consumer("quiet", "g", "c1", rec, ADAPTER).run())

    async def tail() -> None:
        async for _entry in bus.tail("quiet-events"):
            pass

    tailing = asyncio.create_task(tail())
    await asyncio.sleep(0.3)  # both are blocked in a read now
    await bus.publish("quiet", message(1))
    async with asyncio.timeout(2):
        while rec.handled != ["1"]:
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    closed_at = loop.time()
    bus.close()
    await asyncio.wait_for(asyncio.gather(consumer, tailing), 2)
    assert loop.time() - closed_at < 1
    # The connection of a cancelled read was closed, not left with a reply half read.
    assert await redis.ping()
    assert (await redis.xpending("quiet", "g"))["pending"] == 0
