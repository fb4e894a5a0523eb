"""The first reader in the publishing process gets the published payload back, on real Redis;
everything else is parsed as before: other processes' entries, second readings, streams nobody
here reads, payloads that could be changed, entries let go for room."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from pydantic import TypeAdapter, ValidationError

from core import published, streams
from core.bus import Bus, BusConfig, Delivery
from core.bus_tail import FIELD
from core.envelope import (
    InboundMessage,
    IntegrationEvent,
    OutboundMessage,
    RouterInput,
    encode,
)
from tests.support.stream_entries import stream_entries

ROUTER_INPUT: TypeAdapter[RouterInput] = TypeAdapter(RouterInput)


def message(n: int, text: str = "") -> InboundMessage:
    return InboundMessage(
        channel_id=1, external_user_id="u1", external_message_id=str(n), text=text or f"hi {n}"
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
def nothing_kept() -> Iterator[None]:
    published.forget_all()
    yield
    published.forget_all()


class Reader:
    """A consumer of the router's inputs on ``stream``, there before anything is published."""

    def __init__(self, bus: Bus, stream: str) -> None:
        self.got: list[RouterInput] = []
        self.consumer = bus.consumer(stream, "g", "c1", self.handle, ROUTER_INPUT)

    async def handle(self, batch: Sequence[Delivery[RouterInput]]) -> None:
        self.got.extend(d.payload for d in batch)

    async def read(self, count: int) -> list[RouterInput]:
        await self.consumer.bus.ensure_group(self.consumer.stream, "g")
        while len(self.got) < count:
            assert await self.consumer.step() > 0
        return self.got


async def test_the_first_reader_here_gets_the_published_payload_itself(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(redis, BusConfig(block_ms=50))
    reader = Reader(bus, "s")
    tail = bus.tail_reads("t", after="0-0")
    sent = [message(n) for n in range(3)]
    to_tail = [message(n + 10) for n in range(3)]
    for payload, tailed_payload in zip(sent, to_tail, strict=True):
        await bus.publish("s", payload)
        await bus.publish("t", tailed_payload)
    got = await reader.read(3)
    assert all(g is p for g, p in zip(got, sent, strict=True))
    tailed = [payload for _id, payload in await anext(tail)]
    assert all(t is p for t, p in zip(tailed, to_tail, strict=True))
    # A second reader of the same entries parses them.
    again = [payload async for _id, payload in bus.range("s", "0-0", "+")]
    assert again == sent
    assert all(a is not p for a, p in zip(again, sent, strict=True))
    bus.close()


async def test_a_stream_nobody_here_reads_keeps_nothing(redis: aioredis.Redis) -> None:
    bus = Bus(redis, BusConfig(block_ms=50))
    sent = message(1)
    await bus.publish("elsewhere", sent)
    ((_id, fields),) = await stream_entries(redis, "elsewhere")
    got = published.decoded(ROUTER_INPUT, fields[FIELD])
    assert got == sent
    assert got is not sent


async def test_entries_this_process_did_not_encode_are_parsed(redis: aioredis.Redis) -> None:
    bus = Bus(redis, BusConfig(block_ms=50))
    reader = Reader(bus, "s")
    other = message(1)
    # Written as another process writes it: the same text, never encoded here.
    await redis.xadd("s", {FIELD: other.model_dump_json()})
    (got,) = await reader.read(1)
    assert got == other
    assert got is not other


async def test_payloads_that_could_be_changed_are_parsed_for_each_reader(
    redis: aioredis.Redis,
) -> None:
    bus = Bus(redis, BusConfig(block_ms=50))
    hook = IntegrationEvent(
        id="e1", event="message.created", at=datetime.now(UTC), data={"text": "hi"}
    )
    tail = bus.tail_reads("s", after="0-0")
    await bus.publish("s", hook)
    ((_id, got),) = await anext(tail)
    assert got == hook
    assert got is not hook
    bus.close()


async def test_a_kept_payload_of_the_wrong_type_is_refused_as_its_text_would_be(
    redis: aioredis.Redis,
) -> None:
    outbound = OutboundMessage(
        message_id=3, dialog_id=7, channel_id=1, external_user_id="u1", author="operator",
        text="hello", at=datetime.now(UTC),
    )  # fmt: skip
    bus = Bus(redis, BusConfig(block_ms=50))
    reader = Reader(bus, "s")
    with pytest.raises(ValidationError):
        published.decoded(ROUTER_INPUT, published.encoded("s", outbound))
    # On a stream, such an entry goes to the dead letters and the good one after it is read.
    await redis.xadd("s", {FIELD: published.encoded("s", outbound)})
    good = message(2)
    await bus.publish("s", good)
    (got,) = await reader.read(1)
    assert got is good
    dead = await stream_entries(redis, streams.dead_letter("s"))
    assert [d[1]["error"].split(":")[0] for d in dead] == ["malformed entry"]


def test_old_payloads_are_let_go_by_count_and_by_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(published, "KEPT_MOST", 3)
    published.read_here("s")
    sent = [message(n) for n in range(4)]
    texts = [published.encoded("s", m) for m in sent]
    assert published.decoded(ROUTER_INPUT, texts[0]) is not sent[0]
    assert published.decoded(ROUTER_INPUT, texts[0]) == sent[0]
    kept = zip(texts[1:], sent[1:], strict=True)
    assert all(published.decoded(ROUTER_INPUT, text) is payload for text, payload in kept)

    published.forget_all()
    published.read_here("s")
    monkeypatch.setattr(published, "KEPT_CHARS_MOST", 3 * len(encode(message(0, "x" * 500))))
    long = [message(n, "x" * 500) for n in range(4)]
    long_texts = [published.encoded("s", m) for m in long]
    assert published.decoded(ROUTER_INPUT, long_texts[0]) is not long[0]
    assert published.decoded(ROUTER_INPUT, long_texts[3]) is long[3]
