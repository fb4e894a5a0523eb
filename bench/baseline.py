"""The baseline: a bare Redis Streams pipeline in Python, on the same Redis as the hub.

A producer XADDs, a consumer in a consumer group reads with XREADGROUP and XACKs, both with
redis-py's asyncio client in one event loop (as every hub component is). Nothing is parsed,
stored or forwarded: this is the ceiling a Streams-based hub in Python cannot pass, and the
figure the end-to-end run is compared against.

Two shapes:

* ``batched``: the producer pipelines XADDs ``batch`` at a time; the consumer reads
  ``COUNT batch`` and acks each batch in one XACK (the shape DESIGN.md prescribes).
* ``single``: one XADD awaited at a time; the consumer reads ``COUNT 1`` and acks each entry.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aioredis

from bench.stats import Latency

Mode = Literal["batched", "single"]

STREAM = "bench:baseline"
GROUP = "bench"
# About the size of an encoded inbound envelope of the hub (ids, names, a short text).
PAD = "x" * 280


@dataclass(frozen=True)
class BaselineResult:
    """One baseline measurement."""

    mode: Mode
    messages: int
    batch: int
    seconds: float
    msgs_per_s: float
    latency: Latency

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "mode": self.mode,
            "messages": self.messages,
            "batch": self.batch,
            "seconds": self.seconds,
            "msgs_per_s": self.msgs_per_s,
            "latency": self.latency.as_dict(),
        }


async def run_baseline(
    redis_url: str, mode: Mode, messages: int, batch: int = 100, timeout_s: float = 120.0
) -> BaselineResult:
    """Push ``messages`` entries through XADD → XREADGROUP → XACK; measure rate and latency.

    The latency of an entry is from just before its XADD was sent to the moment the consumer
    holds it. The stream is deleted afterwards so the hub's keys are all that remain.
    """
    producer = aioredis.from_url(redis_url)
    consumer = aioredis.from_url(redis_url)
    size = batch if mode == "batched" else 1
    try:
        await producer.delete(STREAM)
        await producer.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        latencies: list[float] = []
        start = time.perf_counter()
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(
                _produce(producer, mode, messages, size),
                _consume(consumer, messages, size, latencies),
            )
        seconds = time.perf_counter() - start
    finally:
        await producer.delete(STREAM)
        await producer.aclose()
        await consumer.aclose()
    return BaselineResult(
        mode=mode,
        messages=messages,
        batch=size,
        seconds=seconds,
        msgs_per_s=messages / seconds,
        latency=Latency.of(latencies),
    )


async def _produce(client: aioredis.Redis, mode: Mode, messages: int, size: int) -> None:
    sent = 0
    while sent < messages:
        n = min(size, messages - sent)
        stamp = repr(time.perf_counter())
        if mode == "batched":
            pipe = client.pipeline(transaction=False)
            for _ in range(n):
                pipe.xadd(STREAM, {"t": stamp, "data": PAD})
            await pipe.execute()
        else:
            await client.xadd(STREAM, {"t": stamp, "data": PAD})
        sent += n


async def _consume(
    client: aioredis.Redis, messages: int, size: int, latencies: list[float]
) -> None:
    done = 0
    while done < messages:
        reply: Any = await client.xreadgroup(GROUP, "c1", {STREAM: ">"}, count=size, block=1000)
        now = time.perf_counter()
        for _stream, entries in reply or []:
            ids = [entry_id for entry_id, _fields in entries]
            latencies.extend(now - float(fields[b"t"]) for _id, fields in entries)
            if ids:
                await client.xack(STREAM, GROUP, *ids)
            done += len(ids)
