"""The router's consumer: which streams it owns, and what each kind of input is handed to.

Messages of one client must be handled in order, so each inbound shard (and the command stream)
has one consumer at a time across all router processes: whoever holds the stream's lease. A
process that dies stops renewing; another takes the lease within its TTL and first takes over
every entry the dead consumer left pending (XAUTOCLAIM at idle 0), then reads new ones. Each
process has a consumer name of its own (``streams.consumer_name``), which is also its name as a
lease holder.

A batch read from a stream is handled in one transaction (``Router.handle``): consecutive
inbound messages, operators' replies or delivery outcomes go as one run to the ``do_*_run`` of
their kind (``router.inbound``, ``router.replies``, ``router.delivery``), everything else to its
``do_*``. The effects the batch queued are published, and its timers armed, only after the
commit. In the hub the transaction runs through the database writer (``core.db.writer``): on
SQLite on the hub's loop when nothing else is writing, else on the writer's thread in one
hand-off per batch; publishing and timers stay on the hub's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import cast

from pydantic import BaseModel, TypeAdapter
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core import streams
from core.bus import Bus, Delivery
from core.bus_tail import Stopping, as_text
from core.db import SessionMaker
from core.db.held import hold_entities
from core.db.rollup import defer_to_commit
from core.db.writer import DbWriter, on_loop
from core.envelope import (
    ClientEdit,
    CloseDialog,
    DeliveryOutcome,
    DeliveryOutcomes,
    DeliveryReceipt,
    HiddenNote,
    InboundMessage,
    InviteColleague,
    LeaveDialog,
    OperatorReply,
    PresenceChange,
    RateDialog,
    ReopenDialog,
    RouterInput,
    SkipOffer,
    TakeOffer,
    TimerFired,
    TransferDialog,
    utcnow,
)
from core.lease import Lease, Members
from core.logs import log_context
from core.outage import REDIS_CLIENT_DOWN, REDIS_DOWN, Outage
from core.presence import ConsoleSockets, LiveSockets
from core.timers import Arm, Disarm, Timers
from router import commands
from router.actions import do_close, do_close_run, do_presence, do_reply
from router.audit import write_audits
from router.batch import Batch
from router.delivery import do_delivery_outcome, do_delivery_outcome_run, do_delivery_receipt
from router.edits import do_client_edit
from router.group_commit import Gathering, GroupCommit
from router.inbound import do_inbound_run
from router.intents import SetTimer
from router.locks import is_write_conflict
from router.reopen import do_reopen
from router.replies import do_reply_run

log = logging.getLogger(__name__)

CONFLICT_ATTEMPTS = 5
"""Runs of one batch that meets deadlocks before its entries go the bus's way of failures."""

ROUTER_INPUT: TypeAdapter[RouterInput] = TypeAdapter(RouterInput)


def client_of(payload: RouterInput) -> str | None:
    """The ordering key of router input: a client's messages stay in order across retries."""
    if isinstance(payload, InboundMessage):
        return streams.client_key(payload.channel_id, payload.external_user_id)
    return None


def router_streams(shards: int) -> list[str]:
    """Every stream the router consumes."""
    return [streams.inbound(i) for i in range(shards)] + [streams.COMMANDS, streams.TIMERS]


def read_size(stream: str, batch_size: int, shards: int) -> int:
    """How many entries the router's consumer of ``stream`` reads at most in one turn.

    The visitors' messages are spread over ``shards`` inbound streams, while every operator's
    reply, its delivery report and the visitor's "seen" come on the one commands stream: two
    or three entries a visitor message there, against a fraction of one on each shard. At
    ``batch_size`` a read, the commands stream fell behind under load while the router still
    had time to spare (replies reached visitors three times later than messages reached
    operators: docs/BENCHMARKS.md). So it reads as much as the shards together; below that
    load a read takes what waits, and nothing changes.
    """
    return batch_size * shards if stream == streams.COMMANDS else batch_size


class _SocketsOnHubLoop:
    """The console sockets, asked on the loop that owns the Redis client: from the writer's
    thread through that loop, or directly when the batch runs on it (``DbWriter``'s
    ``inline``)."""

    def __init__(self, sockets: ConsoleSockets, loop: asyncio.AbstractEventLoop) -> None:
        self.sockets = sockets
        self.loop = loop

    async def live(self, operator_id: int, now: datetime) -> int:
        """How many console sockets of the operator are live at ``now``."""
        if asyncio.get_running_loop() is self.loop:
            return await self.sockets.live(operator_id, now)
        return await on_loop(self.loop, partial(self.sockets.live, operator_id, now))


class Router:
    """Handles batches from the inbound shards, the command stream and the timer stream.

    With a ``writer`` each batch's transaction runs through its synchronous engine, on the
    writer's thread or, for an inline writer on SQLite, on the caller's loop (``sessions`` are
    then not used for batches); without one, on the caller's loop through ``sessions``.
    """

    def __init__(
        self,
        sessions: SessionMaker,
        bus: Bus,
        clock: Callable[[], datetime] = utcnow,
        writer: DbWriter | None = None,
        gathering: Gathering | None = None,
    ) -> None:
        self.sessions = writer.sessions if writer is not None else sessions
        self.bus = bus
        self.clock = clock
        self.writer = writer
        self.timers = Timers(bus.redis)
        # Only counted here, never refreshed: the ttl belongs to the consoles that touch sockets.
        self.sockets = ConsoleSockets(bus.redis, timedelta(0))
        self.committed: Callable[[list[BaseModel], str | None], object] | None = None
        """Told of a batch's ``events`` entries once it has committed, before they are
        published, with the id of the last entry this router published on ``events`` before
        them: the console of this process shows them without their round trip through Redis
        (``OperatorHub.dispatch_committed``). Only when no other batch waits for the router's
        turn: under load the console's work would hold the turn up, and the stream is read
        often enough anyway."""
        self.events_published: str | None = None
        """The id of the last entry this router published on ``events``."""
        # Consumers of several streams share this writer; one transaction at a time per process
        # saves them from waiting on each other's row locks, and the batches that wait meanwhile
        # go in together. Across processes, the row locks of router/locks.py keep capacity
        # checks and assignments consistent.
        self._group: GroupCommit[Delivery[RouterInput]] = GroupCommit(
            self._handle_now, shared_failures=REDIS_CLIENT_DOWN, gathering=gathering
        )

    @property
    def gathering(self) -> Gathering | None:
        """How a busy router lets small transactions wait for others (``router_gather_ms``);
        None: never."""
        return self._group.gathering

    async def handle(self, batch: Sequence[Delivery[RouterInput]]) -> None:
        """Apply a batch in one transaction, with any others waiting for the router
        (``router.group_commit``), then publish the effects."""
        await self._group.submit(batch)

    async def _handle_now(self, batch: Sequence[Delivery[RouterInput]]) -> None:
        """Apply a batch in one transaction, then publish its effects.

        A batch that lost a deadlock or a serialization conflict to another router process was
        rolled back whole, with nothing published: it is run again from the start.
        """
        started = time.perf_counter()
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                work = await self._in_transaction(batch)
                break
            except DBAPIError as exc:
                if not is_write_conflict(exc) or attempt == CONFLICT_ATTEMPTS:
                    raise
                log.info("batch of %d met a write conflict (%s); again", len(batch), exc.orig)
                await asyncio.sleep(random.uniform(0, 0.05 * attempt))
        if self.committed is not None and not self._group.waiting():
            # Once the publish is on its way, not before: the batch holds the router's turn
            # until its publish is answered, and the other readers' entries go first.
            loop = asyncio.get_running_loop()
            loop.call_soon(self._hand_over, work.effects, self.events_published)
        await self._publish(work)
        metrics = self.bus.metrics
        metrics.router_batch_size.observe(len(batch))
        metrics.router_batch_seconds.observe(time.perf_counter() - started)

    async def _in_transaction(self, batch: Sequence[Delivery[RouterInput]]) -> Batch:
        if self.writer is None:
            return await self._apply(batch, self.sockets)
        sockets = _SocketsOnHubLoop(self.sockets, asyncio.get_running_loop())
        return await self.writer.run(lambda: self._apply(batch, sockets))

    async def _apply(self, batch: Sequence[Delivery[RouterInput]], sockets: LiveSockets) -> Batch:
        async with self.sessions() as session, session.begin():
            # The transaction begins here, before the batch does anything: a writer that finds
            # SQLite's lock held by another process may run the batch again elsewhere
            # (``DbWriter.run``), and only a batch that has done nothing yet can start over.
            await session.run_sync(_begin)
            hold_entities(session.sync_session)
            # Written once at the commit: the batch's dialogs move the same few rows.
            defer_to_commit(session.sync_session)
            work = Batch(session, self.clock(), sockets=sockets, writer=True)
            run: list[RouterInput] = []  # consecutive inputs of one kind that runs set-wise
            for payload in _inputs(batch):
                if run and type(payload) is not type(run[0]):
                    await do_run(work, run)
                    run = []
                if type(payload) in RUNS:
                    run.append(payload)
                    continue
                with log_context(dialog_id=getattr(payload, "dialog_id", None),
                                 message_id=getattr(payload, "message_id", None)):  # fmt: skip
                    await dispatch(work, payload)
            await do_run(work, run)
            await write_audits(work)
        return work

    def _hand_over(self, effects: Sequence[tuple[str, BaseModel]], after: str | None) -> None:
        assert self.committed is not None
        try:
            self.committed([event for stream, event in effects if stream == streams.EVENTS], after)
        except Exception:
            # The stream's copy still reaches the console: late, never lost.
            log.exception("could not hand a batch's events to this process's console")

    async def _publish(self, work: Batch) -> None:
        """Publish the batch's effects and set its timers, in one round trip.

        After the commit: neither an effect nor a timer of a rolled-back change ever leaves.
        Each timer's payload names the round it belongs to, so one that fires late is ignored.
        """
        changes = [
            Arm(op.key, op.due_at, dict(op.payload), op.if_absent)
            if isinstance(op, SetTimer)
            else Disarm(op.key)
            for op in work.timer_ops
        ]
        if not work.effects and not changes:
            return
        pipe = self.bus.redis.pipeline(transaction=False)
        self.bus.queue_publish(pipe, work.effects)
        # Last, as before: after the effects.
        queued = bool(changes) and self.timers.queue(pipe, changes)
        replies = await pipe.execute(raise_on_error=False)
        for (stream, _payload), reply in zip(work.effects, replies, strict=False):
            if isinstance(reply, Exception):
                raise reply
            if stream == streams.EVENTS:
                self.events_published = as_text(reply)
        if queued:
            await self.timers.settle(replies[-1], changes)
        elif changes:
            await self.timers.apply(changes)


def may_hold(me: str, mine: int, holders: Iterable[str | None]) -> bool:
    """Whether router ``me``, holding ``mine`` streams, may hold streams while the leases name
    ``holders`` (None: a free stream), when the routers do not share them out: yes if no other
    router holds any; else only if it holds more than each of them, or as many and has the
    earlier name (``RouterService._may_hold``)."""
    others: dict[str, int] = {}
    for holder in holders:
        if holder is not None and holder != me:
            others[holder] = others.get(holder, 0) + 1
    if not others:
        return True
    return mine > 0 and all((mine, name) > (held, me) for name, held in others.items())


def _begin(session: Session) -> None:
    session.connection()


def _inputs(batch: Sequence[Delivery[RouterInput]]) -> list[RouterInput]:
    """The batch's inputs in the order they are applied (``_reports_last``), each outcome of a
    ``DeliveryOutcomes`` entry on its own, in its place."""
    inputs: list[RouterInput] = []
    for delivery in _reports_last(batch):
        payload = delivery.payload
        if isinstance(payload, DeliveryOutcomes):
            inputs.extend(payload.outcomes)
        else:
            inputs.append(payload)
    return inputs


REPORTS = (DeliveryOutcome, DeliveryOutcomes, DeliveryReceipt)
"""The delivery reports among the router's inputs."""


def _reports_last(batch: Sequence[Delivery[RouterInput]]) -> list[Delivery[RouterInput]]:
    """The batch with its delivery reports (outcomes and receipts) moved after everything
    else, in their order.

    A report is about a message that an earlier transaction stored (its connector saw it
    published) and changes only that message's delivery status and platform id, which only
    other reports decide on. Moved to the end, a transaction's outcomes make one run instead of
    splitting the replies they came between into runs of one or two."""
    return sorted(batch, key=lambda d: isinstance(d.payload, REPORTS))


RUNS = (InboundMessage, OperatorReply, DeliveryOutcome, CloseDialog)
"""The inputs whose consecutive entries in a batch are handled as one run, set-wise."""


async def do_run(work: Batch, run: Sequence[RouterInput]) -> None:
    """Hand a run of consecutive inputs of one kind (``RUNS``) to the ``do_*_run`` of its kind."""
    if not run:
        return
    if isinstance(run[0], InboundMessage):
        await do_inbound_run(work, cast(Sequence[InboundMessage], run))
    elif isinstance(run[0], OperatorReply):
        await do_reply_run(work, cast(Sequence[OperatorReply], run))
    elif isinstance(run[0], CloseDialog):
        await do_close_run(work, cast(Sequence[CloseDialog], run))
    else:
        await do_delivery_outcome_run(work, cast(Sequence[DeliveryOutcome], run))


async def dispatch(work: Batch, payload: RouterInput) -> None:
    """Hand one input to the ``do_*`` of its kind (a ``DeliveryOutcomes`` entry comes as its
    outcomes, ``_inputs``)."""
    if isinstance(payload, InboundMessage):
        await do_inbound_run(work, [payload])
    elif isinstance(payload, ClientEdit):
        await do_client_edit(work, payload)
    elif isinstance(payload, OperatorReply):
        await do_reply(work, payload)
    elif isinstance(payload, CloseDialog):
        await do_close(work, payload)
    elif isinstance(payload, PresenceChange):
        await do_presence(work, payload)
    elif isinstance(payload, DeliveryOutcome):
        await do_delivery_outcome(work, payload)
    elif isinstance(payload, DeliveryReceipt):
        await do_delivery_receipt(work, payload)
    elif isinstance(payload, TimerFired):
        await commands.do_timer(work, payload)
    elif isinstance(payload, TakeOffer):
        await commands.do_take(work, payload)
    elif isinstance(payload, SkipOffer):
        await commands.do_skip(work, payload)
    elif isinstance(payload, TransferDialog):
        await commands.do_transfer(work, payload)
    elif isinstance(payload, InviteColleague):
        await commands.do_invite(work, payload)
    elif isinstance(payload, LeaveDialog):
        await commands.do_leave(work, payload)
    elif isinstance(payload, HiddenNote):
        await commands.do_note(work, payload)
    elif isinstance(payload, RateDialog):
        await commands.do_rate(work, payload)
    elif isinstance(payload, ReopenDialog):
        await do_reopen(work, payload)


class RouterService:
    """Holds leases on the router's streams and runs a consumer for each one it holds.

    The streams are shared out among the live router processes (``core.lease.Members``): each
    takes at most its fair share, and one holding more than that (it started first, or another
    joined since) hands the extra streams back after the batch in hand, so several routers
    really do work side by side. A handed-back stream's lease is released at once, and the
    router taking it over reads the entries left pending first (``_take_over``).

    Unless ``share_out`` is off, as on SQLite: there the routers' transactions take turns at
    the database's one write lock, and two routers sharing the streams carried less than one
    (smaller batches, each waiting for the other's commit: docs/BENCHMARKS.md). So there one
    router holds every stream, and the others stand by until its leases end
    (``_may_hold``).
    """

    def __init__(
        self,
        router: Router,
        bus: Bus,
        shards: int,
        name: str,
        lease_ttl_ms: int = 15_000,
        *,
        share_out: bool = True,
    ) -> None:
        self.router = router
        self.bus = bus
        self.name = name
        self.leases = {
            s: Lease(bus.redis, streams.stream_lease("router", s), name, lease_ttl_ms)
            for s in router_streams(shards)
        }
        self.members = Members(bus.redis, "router", name, lease_ttl_ms)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.stops: dict[str, asyncio.Event] = {}
        """Per held stream: set to have its consumer return after the batch in hand."""
        self.lease_ttl_ms = lease_ttl_ms
        self.share_out = share_out
        self.shards = shards

    async def run(self) -> None:
        """Keep leases and consumers going until the bus closes; then release the leases."""
        stopping = self.bus.stopping
        outage = Outage("router leases", kind="lease keeper")
        try:
            while not stopping.is_set():
                try:
                    await self._tend()
                except REDIS_DOWN as exc:
                    # The consumers ride the outage out on their own; leases that expire
                    # meanwhile are lost on the next renew and taken again.
                    await outage.wait(exc, stopping)
                    continue
                outage.over()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.lease_ttl_ms / 3000)
        finally:
            for stop in self.stops.values():
                stop.set()
            tasks = list(self.tasks.values())
            if tasks:
                # Consumers stop after the batch in hand; a blocked read is cancelled.
                _done, late = await asyncio.wait(tasks, timeout=self.bus.config.block_ms / 1000 + 5)
                for task in late:
                    task.cancel()
            with contextlib.suppress(Exception):
                await self.members.leave()
            for stream in list(self.tasks):
                with contextlib.suppress(Exception):
                    await self.leases[stream].release()

    def held(self) -> list[str]:
        """The streams whose lease this process holds and consumes."""
        return sorted(s for s, task in self.tasks.items() if not task.done())

    async def unheld(self) -> list[str]:
        """The router streams whose lease nobody holds right now."""
        return [stream for stream, holder in (await self._holders()).items() if holder is None]

    async def _holders(self) -> dict[str, str | None]:
        """Who holds each router stream's lease now (None: nobody)."""
        # A pipeline, not MGET: on a Redis Cluster the leases' keys lie in different slots.
        pipe = self.bus.redis.pipeline(transaction=False)
        for lease in self.leases.values():
            pipe.get(lease.key)
        found = await pipe.execute()
        return {
            stream: None if raw is None else as_text(raw)
            for stream, raw in zip(self.leases, found, strict=True)
        }

    async def _may_hold(self) -> bool:
        """Without sharing out: whether this router may hold streams now.

        While another router holds any, one that holds none stands by. Two that both hold
        some (they began at once, or one came back from a pause to find part of its streams
        taken over) settle it: the one with fewer, or with as many and the later name, gives
        its own back, and the other takes them up as they come free.
        """
        mine = sum(1 for stream in self.tasks if not self.stops[stream].is_set())
        return may_hold(self.name, mine, (await self._holders()).values())

    async def _tend(self) -> None:
        routers = await self.members.beat()
        if self.share_out:
            share = -(-len(self.leases) // max(routers, 1))
        else:
            share = len(self.leases) if await self._may_hold() else 0
        for stream in list(self.tasks):
            task = self.tasks[stream]
            if task.done():
                if not task.cancelled() and task.exception() is not None:
                    log.error("consumer of %s stopped: %r; restarting", stream, task.exception())
                del self.tasks[stream]
            elif not await self.leases[stream].renew():
                log.warning("lost the lease on %s; stopping its consumer", stream)
                task.cancel()
                del self.tasks[stream]
        kept = [s for s in self.tasks if not self.stops[s].is_set()]
        for stream in kept[share:]:
            if self.share_out:
                log.info("handing %s to another router: %d streams each at most", stream, share)
            else:
                log.info("handing %s to the router that holds more: one holds them all", stream)
            self.stops[stream].set()
        for stream, lease in self.leases.items():
            if len(self.tasks) >= share:
                break
            if stream not in self.tasks and await lease.acquire():
                self.stops[stream] = Stopping()
                self.tasks[stream] = asyncio.create_task(
                    self._take_over(stream, self.stops[stream]), name=f"router:{stream}"
                )

    async def _take_over(self, stream: str, stop: asyncio.Event) -> None:
        """Consume a stream whose lease was just gained: first every entry still pending on
        any consumer of the group (a dead holder's, in stream order), then new ones, until
        ``stop`` is set; then give the lease back.

        Reading new entries first would put a client's later messages before the ones the
        previous holder had read but not finished; waiting for ``claim_idle_ms`` to reclaim
        them would do the same. Only the lease holder reads the stream, so nobody else is
        working on those entries and they can be taken at idle 0.
        """
        config = self.bus.config
        config = replace(config, batch_size=read_size(stream, config.batch_size, self.shards))
        bus = self.bus.sibling(config)
        bus.stopping = stop  # this stream's consumer alone stops when it is handed back
        consumer = bus.consumer(
            stream,
            streams.ROUTER_GROUP,
            self.name,
            self.router.handle,
            ROUTER_INPUT,
            ordering=client_of,
        )
        await bus.ensure_group(stream, streams.ROUTER_GROUP)
        taken = await consumer.reclaim(min_idle_ms=0)
        if taken:
            log.info("took over %d pending entries of %s", taken, stream)
        await bus.forget_idle_consumers(stream, streams.ROUTER_GROUP, self.name)
        await consumer.run()
        # Returned after its last batch was acked: the next holder may start at once.
        await self.leases[stream].release()
