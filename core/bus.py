"""The Redis Streams bus: publish, consume in consumer groups, reclaim, dead-letter.

The ack policy is explicit (``core.bus_ack``): a batch is acked in one XACK only after its
handler returned, which means its effect is durable (the handler commits before returning). A
batch whose handler fails is split and retried one entry at a time, so one poison entry cannot
hold back its neighbours. An entry that keeps failing stays pending, is reclaimed with XAUTOCLAIM
after ``claim_idle_ms`` (by this consumer or by any other in the group), and after
``max_deliveries`` failures it moves to the dead-letter stream ``dlq.{<stream>}`` together with
its last error.

A retry is a value: a handler that raises ``Retry(after=…)`` has its entry acked and parked in
the bus's delayed set (``core.bus_delayed``) until the wait is over, then put back on the stream.
A consumer given an ``ordering`` key parks later entries of a parked key behind it, so one
client's entries keep their order. ``Retry()`` without ``after`` takes the same path with the
wait from ``BusConfig.retry_backoff``: the order holds for it too, and its wait is a setting
instead of a side effect of the reclaim cadence. Retries count towards ``max_deliveries``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from core import bus_tail, published, streams
from core.bus_ack import AckPolicy
from core.bus_config import RETRY_BACKOFF as RETRY_BACKOFF
from core.bus_config import BusConfig as BusConfig
from core.bus_config import Permanent as Permanent
from core.bus_config import Retry as Retry
from core.bus_delayed import DelayedRetries, OrderingKey, deliveries_of, for_other_group
from core.bus_tail import FIELD, as_text, payload_of
from core.coalesce import Coalescer
from core.delivery import Delivery as Delivery
from core.envelope import Envelope, InboundMessage
from core.metrics import HubMetrics
from core.outage import REDIS_CLIENT_DOWN, REDIS_DOWN, Outage
from core.replicas import ReplicaWait

log = logging.getLogger(__name__)

T = TypeVar("T")

Handler = Callable[[Sequence[Delivery[T]]], Awaitable[None]]
Gate = Callable[[], Awaitable[None]]


class Bus:
    """Publishing and consuming on one Redis. Create one per process, under an app key."""

    def __init__(
        self, redis: Redis, config: BusConfig | None = None, metrics: HubMetrics | None = None
    ) -> None:
        self.redis = redis
        self.config = config or BusConfig()
        self.metrics = metrics or HubMetrics()
        """Where the bus and those holding it count what they do."""
        self.replicated = ReplicaWait(redis, self.config.replica_wait_ms)
        self.stopping: asyncio.Event = bus_tail.Stopping()
        """Set by ``close``: consumers and tails finish the batch in hand and return."""
        self.coalesced = Coalescer(redis)
        """Where single commands of many callers share a round trip (``core.coalesce``)."""

    def close(self) -> None:
        """Ask every consumer and tail of this bus to stop after the batch in hand.

        Stopping by flag rather than by cancelling the consumers' tasks means a batch being
        handled is finished and acked; only a read still blocked on a quiet stream is
        cancelled (``core.bus_tail.until_stopped``), so a long ``block_ms`` delays no stop.
        """
        self.stopping.set()

    async def publish(self, stream: str, payload: BaseModel) -> str:
        """Append one payload to a stream, in a round trip shared with the other commands of
        this turn of the loop (``core.coalesce``); returns the entry id."""
        entry_id = await self.coalesced.execute(*self._append(stream, payload))
        if isinstance(payload, InboundMessage):
            self.metrics.messages_in.labels(str(payload.channel_id)).inc()
        return as_text(entry_id)

    async def publish_replicated(self, stream: str, payload: BaseModel) -> str:
        """Like ``publish``, returning once a replica has the entry too (``core.replicas``)."""
        text = published.encoded(stream, payload)
        entry_id = await self.replicated.xadd(stream, {FIELD: text}, self.config.maxlen)
        if isinstance(payload, InboundMessage):
            self.metrics.messages_in.labels(str(payload.channel_id)).inc()
        return entry_id

    def sibling(self, config: BusConfig | None = None) -> Bus:
        """A bus on the same Redis and metrics with a stop flag of its own (and ``config``)."""
        return Bus(self.redis, config or self.config, self.metrics)

    async def publish_many(self, items: Sequence[tuple[str, BaseModel]]) -> None:
        """Append several payloads in one round trip (no transaction: order per stream holds)."""
        if not items:
            return
        pipe = self.redis.pipeline(transaction=False)
        self.queue_publish(pipe, items)
        await pipe.execute()

    def queue_publish(self, pipe: Pipeline, items: Sequence[tuple[str, BaseModel]]) -> None:
        """Add ``publish_many``'s appends to a pipeline the caller sends with other writes."""
        for stream, payload in items:
            pipe.execute_command(*self._append(stream, payload))

    def _append(self, stream: str, payload: BaseModel) -> tuple[Any, ...]:
        """The ``XADD`` of one payload, trimmed near ``maxlen``, as ``execute_command`` takes
        it (without ``xadd``'s building of its arguments, a microsecond an entry)."""
        text = published.encoded(stream, payload)
        return ("XADD", stream, "MAXLEN", "~", self.config.maxlen, "*", FIELD, text)

    async def ensure_group(self, stream: str, group: str) -> None:
        """Create a consumer group reading from the stream's start, if it is missing."""
        try:
            await self.redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def consumer(
        self,
        stream: str,
        group: str,
        name: str,
        handler: Handler[T],
        adapter: TypeAdapter[T],
        ordering: OrderingKey[T] | None = None,
        gate: Gate | None = None,
    ) -> Consumer[T]:
        """A consumer of ``stream`` in ``group``; call ``run()`` in a task.

        ``ordering`` names the key whose entries stay in order when one of them is retried;
        without it every entry is retried on its own. ``gate`` is awaited before each read of
        new entries and returns once there is a use for them (or the bus stops).
        """
        return Consumer(self, stream, group, name, handler, adapter, ordering, gate)

    def tail(
        self, stream: str, block_ms: int | None = None, after: str | None = None
    ) -> AsyncIterator[tuple[str, Envelope]]:
        """Every new entry of a stream until the bus closes, for fan-out readers that each
        need all of them; ``after`` is the last entry the reader handled (``core.bus_tail``).
        """
        return bus_tail.each_entry(self.tail_reads(stream, block_ms, after))

    def tail_reads(
        self, stream: str, block_ms: int | None = None, after: str | None = None
    ) -> AsyncIterator[list[tuple[str, Envelope]]]:
        """``tail``, one list of entries per read (``core.bus_tail.tail_reads``)."""
        block = self.config.block_ms if block_ms is None else block_ms
        published.read_here(stream)
        return bus_tail.tail_reads(self.redis, stream, self.stopping, self.config.batch_size,
                                   block, after)  # fmt: skip

    def range(self, stream: str, after: str, upto: str) -> AsyncIterator[tuple[str, Envelope]]:
        """The entries of a stream after ``after`` up to and including ``upto``, in pages
        (``core.bus_tail``)."""
        return bus_tail.entries_between(self.redis, stream, after, upto, self.config.batch_size)

    async def forget_idle_consumers(
        self, stream: str, group: str, keep: str, min_idle_ms: int = 0
    ) -> int:
        """Remove the group's consumers other than ``keep`` that hold no pending entry and
        have been silent for ``min_idle_ms`` or longer.

        Consumer names are unique per process, so each restart leaves a name behind. With
        ``min_idle_ms=0``: for a stream read by one lease holder at a time, after the holder
        took every pending entry over (a consumer removed while it still runs is recreated by
        its next read). Streams read by several live consumers at once pass a long idle time:
        a live consumer reads every ``block_ms`` and is never that idle, so no entry it is
        about to take can be lost with its name.
        """
        consumers: Any = await self.redis.xinfo_consumers(stream, group)
        gone = [
            as_text(c["name"])
            for c in consumers
            if as_text(c["name"]) != keep and not c["pending"] and int(c["idle"]) >= min_idle_ms
        ]
        for name in gone:
            await self.redis.xgroup_delconsumer(stream, group, name)
        return len(gone)


class Consumer(Generic[T]):
    """Reads one stream in a consumer group and hands batches to a handler."""

    def __init__(
        self,
        bus: Bus,
        stream: str,
        group: str,
        name: str,
        handler: Handler[T],
        adapter: TypeAdapter[T],
        ordering: OrderingKey[T] | None = None,
        gate: Gate | None = None,
    ) -> None:
        self.bus = bus
        self.stream = stream
        self.group = group
        self.name = name
        self.handler = handler
        self.adapter = adapter
        self.ordering = ordering
        self.gate = gate
        self.delayed = DelayedRetries(
            bus.redis, stream, group, streams.bus_failures(stream, group), ordering, self._dump
        )
        self.acks = AckPolicy(bus.redis, stream, group, bus.config, bus.metrics, self.delayed)
        self._last_claim = 0.0
        self._last_forget = time.monotonic()
        published.read_here(stream)

    async def run(self) -> None:
        """Consume until the bus closes. Entries in flight if the process dies stay pending and
        are reclaimed by the next consumer.

        Redis being unreachable (stopped, restarting, loading its AOF) does not end the run: it
        is logged once per outage, retried with ``TAIL_BACKOFF``, and once Redis answers again
        the consumer starts over from its own pending entries, which hold the batch that was in
        hand (handlers are idempotent, so handling it again is safe).
        """
        outage = Outage(f"{self.stream}/{self.group}", kind="consumer")
        while not self.bus.stopping.is_set():
            try:
                # The group again: a Redis that came back without its data has lost it.
                await self.bus.ensure_group(self.stream, self.group)
                # Entries this consumer name read before a restart and never acked come first.
                await self.step(pending_first=True)
                outage.over()
                while not self.bus.stopping.is_set():
                    if self.gate is not None:
                        await self.gate()
                    await self.step()
            except REDIS_DOWN as exc:
                await outage.wait(exc, self.bus.stopping)

    async def step(self, pending_first: bool = False) -> int:
        """Reclaim if due, read one batch, handle it. Returns how many entries were handled."""
        handled = 0
        if pending_first:
            handled += await self._read_own_pending()
        if time.monotonic() - self._last_claim >= self.bus.config.claim_every_s:
            self._last_claim = time.monotonic()
            handled += await self.reclaim()
        cfg = self.bus.config
        if time.monotonic() - self._last_forget >= cfg.forget_every_s:
            self._last_forget = time.monotonic()
            await self.bus.forget_idle_consumers(
                self.stream, self.group, self.name, cfg.forget_idle_ms
            )
        reply, maybe_parked = await self._read_new(self.delayed.wait_ms(cfg.block_ms))
        for _stream, entries in reply or []:
            handled += len(entries)
            await self._handle(entries, maybe_parked, first_delivery=True)
        await self.delayed.requeue_if_due(cfg.maxlen, cfg.claim_every_s)
        return handled

    async def _read_new(self, block_ms: int) -> tuple[Any, bool]:
        """Entries never handed to the group yet, and whether one of their keys may be parked
        (the look rides in the read's round trip: ``DelayedRetries.queue_look``)."""
        if self.bus.stopping.is_set():
            # Not sent at all: cancelled as it is sent, a read may wait out its block anyway
            # (``bus_tail.RECANCEL_S``).
            return None, False
        group, name, count = self.group, self.name, self.bus.config.batch_size
        new: dict[Any, Any] = {self.stream: ">"}
        if not self.delayed.looks_with_reads:
            read = partial(self.bus.redis.xreadgroup, group, name, new, count=count, block=block_ms)
            return await bus_tail.until_stopped(read, self.bus.stopping), True
        pipe = self.bus.redis.pipeline(transaction=False)
        pipe.xreadgroup(group, name, new, count=count, block=block_ms)
        self.delayed.queue_look(pipe)
        replies: Any = await bus_tail.until_stopped(pipe.execute, self.bus.stopping)
        if replies is None:
            return None, True
        reply, parked = replies
        return reply, bool(parked)

    def _dump(self, payload: T) -> str:
        return self.adapter.dump_json(payload).decode()

    async def reclaim(self, min_idle_ms: int | None = None) -> int:
        """Take over entries idle longer than ``min_idle_ms`` (default ``claim_idle_ms``) from
        any consumer of the group, and handle them in stream order.

        ``min_idle_ms=0`` takes over every pending entry: what the only reader of a stream (the
        holder of its lease) does before reading new entries, so that a dead holder's entries
        are handled before the ones that came after them.
        """
        cfg = self.bus.config
        idle = cfg.claim_idle_ms if min_idle_ms is None else min_idle_ms
        start = "0-0"
        total = 0
        while True:
            reply: Any = await self.bus.redis.xautoclaim(
                self.stream, self.group, self.name, idle, start, count=cfg.batch_size
            )
            # Redis 7 lists the ids of entries deleted while pending as a third element. Redis
            # 6.2 answers [cursor, entries] and shows such an entry as a nil with no id at all.
            # Either way the entry can never be handled: ack it.
            cursor, entries = reply[0], reply[1]
            gone = list(reply[2]) if len(reply) > 2 else []
            if any(i is None for i, _f in entries):
                gone += await self._vanished()
            if gone:
                await self.bus.redis.xack(self.stream, self.group, *gone)
            live = [(i, f) for i, f in entries if i is not None and f is not None]
            total += len(live)
            if live:
                await self._handle(live)
            start = as_text(cursor)
            if start == "0-0":
                return total

    async def _vanished(self) -> list[str]:
        """Ids pending on this consumer whose entries no longer exist in the stream."""
        pending: Any = await self.bus.redis.xpending_range(
            self.stream, self.group, "-", "+", self.bus.config.batch_size * 10, self.name
        )
        ids = [as_text(p["message_id"]) for p in pending]
        pipe = self.bus.redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xrange(self.stream, entry_id, entry_id)
        found = await pipe.execute()
        return [i for i, rows in zip(ids, found, strict=True) if not rows]

    async def _read_own_pending(self) -> int:
        total = 0
        start = "0"
        while True:
            reply: Any = await self.bus.redis.xreadgroup(
                self.group, self.name, {self.stream: start}, count=self.bus.config.batch_size
            )
            entries = [e for _s, batch in reply or [] for e in batch]
            if not entries:
                return total
            total += len(entries)
            await self._handle(entries)
            start = as_text(entries[-1][0])

    async def _handle(
        self,
        entries: Sequence[tuple[Any, Any]],
        maybe_parked: bool = True,
        first_delivery: bool = False,
    ) -> None:
        """Handle entries read for this consumer and settle each (``core.bus_ack``).

        ``maybe_parked`` False: nothing was parked once they were read (``_read_new``);
        ``first_delivery``: they were never handed out before, so no failure of theirs is
        counted yet."""
        batch: list[Delivery[T]] = []
        raw: dict[str, Any] = {}
        skipped: list[str] = []
        for raw_id, fields in entries:
            entry_id = as_text(raw_id)
            if fields is None or for_other_group(fields, self.group):
                skipped.append(entry_id)  # deleted while pending, or another group's retry
                continue
            raw[entry_id] = fields
            try:
                payload = published.decoded(self.adapter, payload_of(fields))
            except (ValidationError, KeyError, UnicodeDecodeError) as exc:
                await self.acks.malformed(entry_id, fields, exc)
                continue
            batch.append(Delivery(self.stream, entry_id, payload, deliveries_of(fields)))
        await self.acks.ack(skipped, first_delivery)
        batch = await self.delayed.behind_parked(batch, maybe_parked)
        if not batch:
            return
        try:
            await self.handler(batch)
        except (asyncio.CancelledError, *REDIS_CLIENT_DOWN):
            raise  # Redis is away: not the entries' fault; they stay pending for after it
        except Exception as exc:
            if len(batch) == 1:
                await self.acks.failed(batch[0], exc, raw[batch[0].id])
                return
            log.warning(
                "batch of %d from %s failed (%s); retrying one by one", len(batch), self.stream, exc
            )
            for delivery in batch:
                if not await self.delayed.behind_parked([delivery]):
                    continue  # an earlier entry of its key was just parked
                try:
                    await self.handler([delivery])
                except (asyncio.CancelledError, *REDIS_CLIENT_DOWN):
                    raise
                except Exception as one_exc:
                    await self.acks.failed(delivery, one_exc, raw[delivery.id])
                else:
                    await self.acks.ack([delivery.id], first_delivery)
            return
        await self.acks.ack([d.id for d in batch], first_delivery)
