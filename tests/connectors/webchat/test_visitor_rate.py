"""The widget's message budget is one per visitor, whatever number of sockets they open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from connectors.webchat.rate import MAX_PER_VISITOR, RateBudget, VisitorRate
from core.bus import Bus, BusConfig
from core.envelope import InboundMessage
from tests.support.connector_hub import Hub, StartHub, make_settings
from tests.support.hubclient import VisitorClient
from tests.support.stream_entries import stream_entries


def said(n: int, visitor: str) -> InboundMessage:
    """Visitor ``visitor``'s message number ``n``."""
    return InboundMessage(
        channel_id=1, external_user_id=visitor, external_message_id=str(n), text=f"hi {n}"
    )


async def answer_to(visitor: VisitorClient, client_msg_id: str) -> str:
    """``accepted`` or the error code of the visitor's message ``client_msg_id``."""
    while True:
        frame = await visitor.receive()
        if frame.get("client_msg_id") == client_msg_id:
            return str(frame["code"] if frame["type"] == "error" else frame["type"])


async def test_ten_sockets_of_one_visitor_share_one_budget(
    start_hub: StartHub, redis_url: str, tmp_path: Path
) -> None:
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path))
    first = VisitorClient(hub.base)
    await first.connect()
    sockets = [first]
    for _ in range(9):
        tab = VisitorClient(hub.base)
        await tab.connect(token=first.token)
        sockets.append(tab)
    answers: list[str] = []
    try:
        for n in range(3 * MAX_PER_VISITOR):
            tab = sockets[n % len(sockets)]
            answers.append(await answer_to(tab, await tab.say(f"flood {n}")))
        assert answers.count("accepted") == MAX_PER_VISITOR
        assert answers[MAX_PER_VISITOR:] == ["rate_limited"] * (2 * MAX_PER_VISITOR)
        # Another visitor on the same machine still has a budget of their own.
        neighbour = VisitorClient(hub.base)
        await neighbour.connect()
        sockets.append(neighbour)
        assert await answer_to(neighbour, await neighbour.say("hello")) == "accepted"
    finally:
        for tab in sockets:
            await tab.close()


async def test_many_visitors_from_one_address_meet_its_ceiling(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    rate = VisitorRate(client, RateBudget(window_s=10, per_visitor=3, per_address=5))
    try:
        allowed = [await rate.check_allowed(1, f"v{n}", "203.0.113.7") for n in range(8)]
        assert allowed == [True] * 5 + [False] * 3
        assert await rate.check_allowed(1, "v-elsewhere", "198.51.100.2")
    finally:
        await client.aclose()


async def test_behind_a_proxy_the_address_budget_is_the_clients_own(
    start_hub: StartHub, redis_url: str, tmp_path: Path
) -> None:
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, webchat_max_per_address=2))
    office = {"X-Forwarded-For": "203.0.113.7"}
    visitors = [VisitorClient(hub.base) for _ in range(3)]
    try:
        first, second, elsewhere = visitors
        await first.connect(headers=office)
        await second.connect(headers=office)
        await elsewhere.connect(headers={"X-Forwarded-For": "198.51.100.2"})
        assert await answer_to(first, await first.say("one")) == "accepted"
        assert await answer_to(second, await second.say("two")) == "accepted"
        assert await answer_to(second, await second.say("three")) == "rate_limited"
        # The proxy's address is not the office's: a visitor elsewhere still has a budget.
        assert await answer_to(elsewhere, await elsewhere.say("hello")) == "accepted"
    finally:
        for visitor in visitors:
            await visitor.close()


async def test_the_per_visitor_budget_is_a_setting(
    start_hub: StartHub, redis_url: str, tmp_path: Path
) -> None:
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, webchat_max_per_visitor=3))
    visitor = VisitorClient(hub.base)
    await visitor.connect()
    try:
        answers = [await answer_to(visitor, await visitor.say(f"hi {n}")) for n in range(5)]
        assert answers == ["accepted"] * 3 + ["rate_limited"] * 2
    finally:
        await visitor.close()


async def test_both_counters_of_a_message_are_one_call_and_each_starts_its_window(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    rate = VisitorRate(client, RateBudget(window_s=10, per_visitor=2, per_address=5))
    try:
        await rate.check_allowed(1, "v1", "203.0.113.9")  # loads the script
        await client.config_resetstat()
        assert [await rate.check_allowed(1, "v1", "203.0.113.9") for _ in range(2)] == [True, False]
        stats = await client.info("commandstats")
        assert stats["cmdstat_evalsha"]["calls"] == 2
        assert stats["cmdstat_incr"]["calls"] == 4
        for key in ("rate:webchat:visitor:1:v1", "rate:webchat:ip:203.0.113.9"):
            assert 0 < await client.ttl(key) <= 10
        assert await client.get("rate:webchat:ip:203.0.113.9") == "3"
    finally:
        await client.aclose()


async def test_a_message_is_counted_and_queued_in_one_call_and_never_queued_over_budget(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    bus = Bus(client, BusConfig(replica_wait_ms=1000))  # no replica connected: nothing to wait for
    rate = VisitorRate(client, RateBudget(window_s=10, per_visitor=2, per_address=4))

    try:
        assert await rate.queue_if_allowed(bus, "in.1", said(0, "v0"), "198.51.100.2")  # loads it
        await client.config_resetstat()
        queued = [await rate.queue_if_allowed(bus, "in.0", said(n, "v1"), "203.0.113.9")
                  for n in range(3)]  # fmt: skip
        queued.append(await rate.queue_if_allowed(bus, "in.0", said(3, "v2"), "203.0.113.9"))
        queued.append(await rate.queue_if_allowed(bus, "in.0", said(4, "v2"), "203.0.113.9"))
        stats = await client.info("commandstats")
        assert queued == [True, True, False, True, False]  # v1's budget, then the address's
        entries = await stream_entries(client, "in.0")
        messages = [InboundMessage.model_validate_json(f["data"]) for _id, f in entries]
        texts = [(m.external_user_id, m.text) for m in messages]
        assert texts == [("v1", "hi 0"), ("v1", "hi 1"), ("v2", "hi 3")]
        assert stats["cmdstat_evalsha"]["calls"] == 5
        assert stats["cmdstat_xadd"]["calls"] == 3  # by the script
        for key in ("rate:webchat:visitor:1:v1", "rate:webchat:ip:203.0.113.9"):
            assert 0 < await client.ttl(key) <= 10
        assert await client.get("rate:webchat:ip:203.0.113.9") == "5"
    finally:
        await client.aclose()


@pytest.fixture
async def one_each(redis_url: str) -> AsyncIterator[tuple[aioredis.Redis, Bus, VisitorRate]]:
    """A client, its bus and a budget of one message per visitor, none per address."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client, Bus(client), VisitorRate(client, RateBudget(10, per_visitor=1, per_address=0))
    await client.aclose()


async def test_messages_of_many_visitors_in_one_turn_share_a_round_trip(
    one_each: tuple[aioredis.Redis, Bus, VisitorRate],
) -> None:
    client, bus, rate = one_each
    assert await rate.queue_if_allowed(bus, "in.1", said(0, "v"), "198.51.100.2")  # loads it
    trips = bus.coalesced.trips
    queued = await asyncio.gather(
        *(rate.queue_if_allowed(bus, "in.0", said(n, f"v{n % 4}"), "203.0.113.9")
          for n in range(8))
    )  # fmt: skip
    assert bus.coalesced.trips == trips + 1
    # Each visitor's first message is queued, the second is over their budget of one.
    assert queued == [True] * 4 + [False] * 4
    entries = await stream_entries(client, "in.0")
    texts = [InboundMessage.model_validate_json(f["data"]).text for _id, f in entries]
    assert texts == ["hi 0", "hi 1", "hi 2", "hi 3"]


async def test_a_redis_that_forgot_the_script_still_counts_and_queues(
    one_each: tuple[aioredis.Redis, Bus, VisitorRate],
) -> None:
    client, bus, rate = one_each
    await client.script_flush()  # as after a restart without persistence
    assert await rate.queue_if_allowed(bus, "in.0", said(1, "v"), "203.0.113.9")
    await client.script_flush()
    assert not await rate.queue_if_allowed(bus, "in.0", said(2, "v"), "203.0.113.9")  # counted
    assert len(await stream_entries(client, "in.0")) == 1
