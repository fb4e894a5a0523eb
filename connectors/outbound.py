"""Durable outbound delivery for platform connectors (Telegram, VK, Viber, email).

An ``OutboundSender`` consumes ``out.<kind>`` in the consumer group ``connectors``, so the queue
lives in Redis and survives a restart: an entry is acked only after its outcome is recorded.

For each operator or system message it:

1. skips it when it was already sent (``sent:<kind>:<message id>`` in Redis, or a delivery
   status on the row — either proves a finished send);
2. takes the send marker ``sending:<kind>:<message id>`` with SET NX;
3. calls the platform's ``deliver``; on success it writes ``Message.external_id`` and
   ``delivery_status='sent'``, sets ``sent:…``, drops the marker and publishes a
   ``MessageEvent`` so the operator sees the status;
4. on ``SendLater`` (a 429 ``retry_after``, VK errors 6/9, Viber status 12, a network error)
   it waits inline when the wait is short, otherwise it drops the marker and parks the entry in
   the sorted set ``outbound:delayed:<kind>``, from which it returns to the stream when due —
   so a long ``retry_after`` neither blocks the consumer nor burns the bus's delivery count;
5. on ``SendError`` (the platform refused for good: blocked by the user, bad request) it writes
   ``delivery_status='failed'`` and the platform's reason, shown to the operator.

The remaining double-send window: if the process dies after the platform accepted a message but
before ``sent:…`` is written, the marker is still there when the entry is reclaimed. Platforms
that dedupe resends themselves (VK: ``random_id`` derived from our message id) resend safely
(``idempotent_sends``); for the others (Telegram, Viber) we do not resend and mark the message
failed with a reason that says delivery is unknown, so no client ever gets a message twice.
A network timeout in mid-request is likewise ambiguous; it is treated as retryable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import TypeAdapter
from sqlalchemy import select, update

from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker
from core.db.routing_schema import line_members
from core.db.schema import Dialog, Message, Operator
from core.envelope import DialogClosedNotice, MessageEvent, Outbound, OutboundMessage, encode
from core.roles import SUPERVISOR_ROLES
from core.views import message_view

log = logging.getLogger(__name__)

SENT_TTL_S = 60 * 24 * 3600
MARKER_TTL_S = 7 * 24 * 3600
UNKNOWN = "delivery unknown: the hub stopped while sending; not resent to avoid a double"

Work = Outbound
WORK: TypeAdapter[Outbound] = TypeAdapter(Outbound)

# KEYS: delayed zset, stream. ARGV: now (ms), max count, maxlen. Moves due entries atomically,
# so two processes never requeue the same entry twice.
_REQUEUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, doc in ipairs(due) do
  redis.call('ZREM', KEYS[1], doc)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'data', doc)
end
return #due
"""

Status = Literal["sent", "delivered", "seen", "failed"]
_RANK = {None: 0, "sent": 1, "delivered": 2, "seen": 3, "failed": 4}


class SendLater(Exception):
    """The platform cannot take the message now; ``after`` is its own wait, when it gave one."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class SendError(Exception):
    """The platform refused the message for good; the text is shown to the operator."""


@dataclass(frozen=True)
class Sent:
    """The platform's id of a delivered message (of its first part, when it was split)."""

    external_id: str


@dataclass(frozen=True)
class Receipt:
    """A delivery report from a platform about one of our messages."""

    channel_id: int
    external_id: str
    status: Status
    error: str | None = None


class Platform(Protocol):
    """What a connector offers the sender."""

    kind: str
    idempotent_sends: bool
    """True when a resend of the same message is deduplicated by the platform itself."""

    async def deliver(self, message: OutboundMessage) -> Sent:
        """Send one message; raise SendLater or SendError when it cannot be sent."""
        ...

    async def deliver_closed(self, notice: DialogClosedNotice) -> None:
        """Tell the client the dialog closed (a goodbye), or do nothing."""
        ...


@dataclass(frozen=True)
class OutboundPolicy:
    """Retry policy of the sender. Frozen: a retry policy is a value."""

    attempts: int = 3
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    inline_wait_s: float = 5.0
    """Waits up to this long happen in place; longer ones park the entry."""
    batch_budget_s: float = 10.0
    """Total inline waiting per batch, kept well under the bus's claim_idle_ms."""
    give_up_after: int = 12
    """Parkings of one message before it is marked failed."""
    batch_size: int = 10


class OutboundSender:
    """Consumes ``out.<kind>`` and delivers through ``platform``."""

    def __init__(
        self,
        platform: Platform,
        bus: Bus,
        sessions: SessionMaker,
        name: str,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.platform = platform
        self.kind = platform.kind
        self.sessions = sessions
        self.policy = policy or OutboundPolicy()
        # A smaller batch than the router's: sends are slow, and a batch must finish well
        # before another consumer may reclaim it. The stop flag is the hub's own.
        config = dataclasses.replace(bus.config, batch_size=self.policy.batch_size)
        self.bus = Bus(bus.redis, config)
        self.bus.stopping = bus.stopping
        self.name = name
        self.stream = streams.outbound(self.kind)
        self.delayed_key = streams.outbound_delayed(self.kind)

    async def run(self) -> None:
        """Consume and requeue parked entries until the bus stops."""
        consumer = self.bus.consumer(
            self.stream, streams.CONNECTORS_GROUP, self.name, self.handle, WORK
        )
        mover = asyncio.create_task(self._requeue_loop())
        try:
            await consumer.run()
        finally:
            mover.cancel()
            await asyncio.gather(mover, return_exceptions=True)

    async def _requeue_loop(self) -> None:
        while not self.bus.stopping.is_set():
            await self.requeue_due()
            await asyncio.sleep(0.2)

    async def requeue_due(self) -> int:
        """Move parked entries that came due back onto the stream."""
        now_ms = int(time.time() * 1000)
        moved: Any = await self.bus.redis.eval(
            _REQUEUE, 2, self.delayed_key, self.stream, now_ms, 100, self.bus.config.maxlen
        )
        return int(moved)

    async def handle(self, batch: Sequence[Delivery[Work]]) -> None:
        """Handle one batch; every outcome is recorded before the batch is acked."""
        deadline = time.monotonic() + self.policy.batch_budget_s
        for delivery in batch:
            payload = delivery.payload
            if isinstance(payload, OutboundMessage):
                await self.send_one(payload, deadline)
            else:
                await self._closed(payload)

    async def _closed(self, notice: DialogClosedNotice) -> None:
        key = f"closed:{self.kind}:{notice.dialog_id}"
        if not await self.bus.redis.set(key, "1", nx=True, ex=SENT_TTL_S):
            return
        try:
            await self.platform.deliver_closed(notice)
        except (SendLater, SendError) as exc:
            # A goodbye is a courtesy: never worth a retry storm or an operator's attention.
            log.info("goodbye for dialog %d not sent: %s", notice.dialog_id, exc)

    async def send_one(self, message: OutboundMessage, deadline: float) -> None:
        """Deliver one message at most once, recording the outcome."""
        if message.author == "client":
            return  # the client's own words travel to the client only on the web chat
        redis = self.bus.redis
        sent_key = f"sent:{self.kind}:{message.message_id}"
        if await redis.exists(sent_key):
            return
        async with self.sessions() as session:
            row = await session.get(Message, message.message_id)
            if row is None or row.delivery_status is not None or row.hidden:
                return
        marker = f"sending:{self.kind}:{message.message_id}"
        taken = await redis.set(marker, self.name, nx=True, ex=MARKER_TTL_S)
        if not taken and not self.platform.idempotent_sends:
            await self.record(message.message_id, "failed", error=UNKNOWN)
            return
        for attempt in range(self.policy.attempts):
            try:
                sent = await self.platform.deliver(message)
            except SendError as exc:
                await self.record(message.message_id, "failed", error=str(exc) or "refused")
                await redis.set(sent_key, "failed", ex=SENT_TTL_S)
                await redis.delete(marker)
                return
            except (SendLater, OSError, TimeoutError) as exc:
                wait = self._wait(exc, attempt)
                if time.monotonic() + wait <= deadline and wait <= self.policy.inline_wait_s:
                    log.info("send %d: %s; again in %.1f s", message.message_id, exc, wait)
                    await asyncio.sleep(wait)
                    continue
                await self._park(message, wait, str(exc), marker)
                return
            await self.record(message.message_id, "sent", external_id=sent.external_id)
            await redis.set(sent_key, "sent", ex=SENT_TTL_S)
            await redis.delete(marker)
            return
        await self._park(message, self._wait(None, self.policy.attempts), "retries", marker)

    def _wait(self, exc: BaseException | None, attempt: int) -> float:
        if isinstance(exc, SendLater) and exc.after is not None:
            return max(0.0, exc.after)
        return float(min(self.policy.backoff_max_s, self.policy.backoff_s * 2**attempt))

    async def _park(self, message: OutboundMessage, wait: float, reason: str, marker: str) -> None:
        redis = self.bus.redis
        count = await redis.incr(streams.outbound_parked(self.kind, message.message_id))
        await redis.delete(marker)  # the platform did not take it: a later try is no double
        if count > self.policy.give_up_after:
            await self.record(message.message_id, "failed", error=f"gave up: {reason}")
            return
        due_ms = int((time.time() + wait) * 1000)
        await redis.zadd(self.delayed_key, {encode(message): due_ms})
        log.info("send %d parked for %.1f s: %s", message.message_id, wait, reason)

    async def record(
        self,
        message_id: int,
        status: Status,
        external_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Write a delivery outcome and tell the console."""
        await do_record_status(
            self.sessions, self.bus, message_id, status, external_id=external_id, error=error
        )


async def do_record_status(
    sessions: SessionMaker,
    bus: Bus,
    message_id: int,
    status: Status,
    external_id: str | None = None,
    error: str | None = None,
) -> bool:
    """Set a message's delivery status (never backwards: seen stays seen) and announce it."""
    async with sessions() as session, session.begin():
        row = await session.get(Message, message_id)
        if row is None:
            return False
        values: dict[str, Any] = {}
        if _RANK[status] > _RANK.get(row.delivery_status, 0):
            values = {"delivery_status": status, "delivery_error": error}
        if external_id is not None:
            values["external_id"] = external_id
        if not values:
            return False
        await session.execute(update(Message).where(Message.id == message_id).values(**values))
        await session.refresh(row)
        dialog = await session.get(Dialog, row.dialog_id)
        assert dialog is not None
        recipients = await _recipients(session, dialog)
        view = message_view(row)
    event = MessageEvent(
        key=f"message:{message_id}:{row.delivery_status}", recipients=recipients, message=view
    )
    await bus.publish(streams.EVENTS, event)
    return True


async def do_apply_receipt(sessions: SessionMaker, bus: Bus, receipt: Receipt) -> bool:
    """Apply a platform's delivery report to the message it names; False when none matches."""
    async with sessions() as session:
        message_id = await session.scalar(
            select(Message.id).where(
                Message.channel_id == receipt.channel_id,
                Message.external_id == receipt.external_id,
            )
        )
    if message_id is None:
        return False
    return await do_record_status(sessions, bus, message_id, receipt.status, error=receipt.error)


async def _recipients(session: Any, dialog: Dialog) -> tuple[int, ...]:
    # The same audience the router gives message events (Batch.recipients): the dialog's
    # operator (or the line while it waits), every admin, and the managers on the line.
    rows = await session.execute(line_members([dialog.line_id]))
    members = {operator_id for _line, operator_id in rows}
    people = {dialog.operator_id} if dialog.operator_id is not None else set(members)
    supervisors = await session.execute(
        select(Operator.id, Operator.role).where(Operator.role.in_(SUPERVISOR_ROLES))
    )
    people.update(op for op, role in supervisors if role == "admin" or op in members)
    return tuple(sorted(people))
