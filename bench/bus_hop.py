"""CPU of one hop on the bus: an envelope published by one role and consumed by another, in one
process, as in the one-process hub.

A visitor message and its reply cross the bus eight times in the hub (``docs/BENCHMARKS.md``
counts them), so this figure times eight is what the bus costs a visitor message, and what an
in-process hand-off could at most save. Three ways, taking turns in one process on one embedded
Redis; each figure is the median of the rounds' CPU per entry:

* ``bare``: the bare pipeline of ``bench.baseline``, a pre-encoded payload of an envelope's
  size through ``XADD`` pipelines, ``XREADGROUP`` and ``XACK``, redis-py's pipeline and reads
  on the hub's client: the floor of a Streams hop in Python;
* ``publish``: the hub's publish alone, a console event (``MessageEvent``) encoded and appended
  ten to a pipeline (``Bus.queue_publish``), as the router publishes a batch's effects;
* ``hop``: the same publish and a ``core.bus`` consumer in the same process that takes each
  entry (the payload it published: ``core.published``) and acks it, with a handler that does
  nothing;
* ``parsed``: the same with nothing kept, so that the consumer parses and validates each entry,
  as a reader in another process (the roles split) does.

    .venv/bin/python -m bench.bus_hop [--entries 5000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import uvloop
from redis.asyncio import Redis

from core import published
from core.bus import Bus, Delivery
from core.bus_tail import FIELD
from core.envelope import ENVELOPE, Envelope, MessageEvent, MessageView, encode
from core.redis_connect import connect
from core.redis_server import EmbeddedRedis

PIPELINE = 10
"""Entries per publish: about a router batch's events."""
GROUP = "bench"


def _event(number: int) -> MessageEvent:
    """A visitor's message as the console hears of it, with a short text."""
    return MessageEvent(
        key=f"message:{number}:None",
        recipients=(1, 2),
        message=MessageView(
            id=number,
            dialog_id=7,
            author="client",
            author_name="Visitor 12",
            text="Hello, I have a question about my order number 12345",
            client_msg_id=f"c-{number}",
            at=datetime.now(UTC),
        ),
    )


async def _bare(redis: Redis, stream: str, payloads: Sequence[bytes]) -> None:
    await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    for start in range(0, len(payloads), PIPELINE):
        pipe = redis.pipeline(transaction=False)
        for payload in payloads[start : start + PIPELINE]:
            pipe.xadd(stream, {FIELD: payload})
        await pipe.execute()
        read: Any = await redis.xreadgroup(GROUP, "c", {stream: ">"}, count=100)
        for _stream, entries in read:
            await redis.xack(stream, GROUP, *(entry_id for entry_id, _fields in entries))


async def _publish(bus: Bus, stream: str, events: Sequence[MessageEvent]) -> None:
    for start in range(0, len(events), PIPELINE):
        pipe = bus.redis.pipeline(transaction=False)
        bus.queue_publish(pipe, [(stream, event) for event in events[start : start + PIPELINE]])
        await pipe.execute()


async def _hop(bus: Bus, stream: str, events: Sequence[MessageEvent]) -> None:
    got = 0
    done = asyncio.Event()

    async def handle(batch: Sequence[Delivery[Envelope]]) -> None:
        nonlocal got
        got += len(batch)
        if got >= len(events):
            done.set()

    await bus.ensure_group(stream, GROUP)
    consumer = bus.consumer(stream, GROUP, "c", handle, ENVELOPE)
    for start in range(0, len(events), PIPELINE):
        await _publish(bus, stream, events[start : start + PIPELINE])
        # One read per publish, as a consumer that keeps up reads: a step of its loop.
        await consumer.step()
    while not done.is_set():
        await consumer.step()


async def _parsed(bus: Bus, stream: str, events: Sequence[MessageEvent]) -> None:
    kept = published.KEPT_MOST
    published.KEPT_MOST = 0  # each payload is let go as it is published
    try:
        await _hop(bus, stream, events)
    finally:
        published.KEPT_MOST = kept


async def _cpu_us(work: Callable[[], Awaitable[None]], entries: int) -> float:
    started = time.process_time()
    await work()
    return (time.process_time() - started) / entries * 1e6


async def run(entries: int, rounds: int) -> dict[str, float]:
    """Median µs of CPU per entry, by way."""
    events = [_event(n) for n in range(entries)]
    payloads = [encode(event).encode() for event in events]
    with tempfile.TemporaryDirectory(prefix="openlines-hop-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis")
        await server.start()
        redis = connect(server.url, 16)
        bus = Bus(redis)
        spent: dict[str, list[float]] = {"bare": [], "publish": [], "hop": [], "parsed": []}
        try:
            for number in range(rounds + 1):
                ways: dict[str, Callable[[], Awaitable[None]]] = {
                    "bare": partial(_bare, redis, f"bench:bare:{number}", payloads),
                    "publish": partial(_publish, bus, f"bench:publish:{number}", events),
                    "hop": partial(_hop, bus, f"bench:hop:{number}", events),
                    "parsed": partial(_parsed, bus, f"bench:parsed:{number}", events),
                }
                for name, work in ways.items():
                    figure = await _cpu_us(work, entries)
                    if number:  # the first round warms connections and caches
                        spent[name].append(figure)
                await redis.flushdb()
            return {name: statistics.median(figures) for name, figures in spent.items()}
        finally:
            await redis.aclose()
            await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bus_hop", description=__doc__)
    parser.add_argument("--entries", type=int, default=5000, help="entries per round (5000)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each way (10)")
    args = parser.parse_args(argv)
    if args.entries < PIPELINE or args.rounds < 1:
        parser.error(f"--entries must be at least {PIPELINE} and --rounds at least 1")
    figures = uvloop.run(run(args.entries, args.rounds))
    print(f"median µs of CPU per entry, {args.rounds} rounds of {args.entries} entries")
    print(f"  bare Streams hop (payload pre-encoded)     {figures['bare']:6.1f}")
    print(f"  the hub's publish of an event, alone      {figures['publish']:6.1f}")
    print(f"  the hub's hop: publish, consume, ack      {figures['hop']:6.1f}")
    print(f"  the same, each entry parsed               {figures['parsed']:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
