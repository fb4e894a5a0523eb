"""Durable outbound delivery for platform connectors (Telegram, VK, Viber, email).

An ``OutboundSender`` consumes ``out.<kind>`` in the consumer group ``connectors``, so the queue
lives in Redis and survives a restart: an entry is acked only after its outcome is recorded.

For each operator or system message it:

1. skips it when it was already sent (``sent:<kind>:<message id>`` in Redis, or a delivery
   status on the row — either proves a finished send);
2. takes the send marker ``sending:<kind>:<message id>`` with SET NX;
3. calls the platform's ``deliver``; on success it reports a ``DeliveryOutcome`` (status
   ``sent`` and the platform's id) to the router, which records it on the message and tells
   the operator; then it sets ``sent:…`` and drops the marker;
4. on ``SendLater`` (a 429 ``retry_after``, VK errors 6/9, Viber status 12, a network error)
   it waits inline when the wait is short, otherwise it drops the marker, notes the platform's
   "not before" time (``outbound:wait:<kind>:<message id>``) and raises ``Retry(after=…)``: the
   bus parks the entry, and the dialog's later messages behind it, until the wait is over —
   so a long ``retry_after`` neither blocks the consumer nor reorders a dialog;
5. on ``SendError`` (the platform refused for good: blocked by the user, bad request) it reports
   the outcome ``failed`` with the platform's reason, shown to the operator.

Platform receipts (delivered, seen, failed) travel the same way, as ``DeliveryReceipt``s
(``report_receipt``): the router is the only writer of messages.

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
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import TypeAdapter

from connectors.health import do_record_outbound
from core import streams
from core.backoff import Backoff
from core.bus import Bus, Delivery, Retry
from core.db import SessionMaker
from core.db.schema import Message
from core.envelope import (
    DeliveryOutcome,
    DeliveryReceipt,
    DeliveryStatus,
    DialogClosedNotice,
    Outbound,
    OutboundMessage,
)
from core.logs import log_context

log = logging.getLogger(__name__)

SENT_TTL_S = 60 * 24 * 3600
MARKER_TTL_S = 7 * 24 * 3600
UNKNOWN = "delivery unknown: the hub stopped while sending; not resent to avoid a double"

Work = Outbound
WORK: TypeAdapter[Outbound] = TypeAdapter(Outbound)


def dialog_of(work: Work) -> str:
    """The ordering key of outbound work: one dialog's messages reach the client in order."""
    return str(work.dialog_id)


Status = DeliveryStatus


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

    backoff: Backoff = field(default_factory=lambda: Backoff(attempts=3, first_s=0.5, max_s=30))
    """Tries in place, and the waits between them when the platform names none."""
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
        # Parkings are retries to the bus: the sender's own give-up comes before the dead letter.
        config = dataclasses.replace(
            bus.config,
            batch_size=self.policy.batch_size,
            max_deliveries=bus.config.max_deliveries + self.policy.give_up_after,
        )
        self.bus = bus.sibling(config)
        self.bus.stopping = bus.stopping
        self.name = name
        self.stream = streams.outbound(self.kind)

    async def run(self) -> None:
        """Consume until the bus stops; parked entries come back through the bus."""
        consumer = self.bus.consumer(
            self.stream, streams.CONNECTORS_GROUP, self.name, self.handle, WORK, ordering=dialog_of
        )
        await consumer.run()

    async def handle(self, batch: Sequence[Delivery[Work]]) -> None:
        """Handle one batch; every outcome is recorded before the batch is acked."""
        deadline = time.monotonic() + self.policy.batch_budget_s
        for delivery in batch:
            payload = delivery.payload
            with log_context(
                dialog_id=payload.dialog_id,
                channel_id=payload.channel_id,
                message_id=getattr(payload, "message_id", None),
            ):
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
        await self._check_not_before(message.message_id)
        marker = f"sending:{self.kind}:{message.message_id}"
        taken = await redis.set(marker, self.name, nx=True, ex=MARKER_TTL_S)
        if not taken and not self.platform.idempotent_sends:
            await self.record(message.message_id, "failed", error=UNKNOWN)
            return
        for attempt in range(self.policy.backoff.attempts):
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
            await do_record_outbound(redis, message.channel_id)
            return
        await self._park(message, self._wait(None, self.policy.backoff.attempts), "retries", marker)

    def _wait(self, exc: BaseException | None, attempt: int) -> float:
        retry_after = exc.after if isinstance(exc, SendLater) else None
        return self.policy.backoff.delay(attempt + 1, retry_after)

    async def _check_not_before(self, message_id: int) -> None:
        # A message parked in a batch is tried again at once when the bus splits the batch;
        # the platform's wait still holds then, so the retry is only handed back to the bus.
        left_ms = await self.bus.redis.pttl(streams.outbound_wait(self.kind, message_id))
        if left_ms > 0:
            raise Retry(f"send {message_id}: the platform asked to wait", after=left_ms / 1000)

    async def _park(self, message: OutboundMessage, wait: float, reason: str, marker: str) -> None:
        redis = self.bus.redis
        count = await redis.incr(streams.outbound_parked(self.kind, message.message_id))
        await redis.delete(marker)  # the platform did not take it: a later try is no double
        if count > self.policy.give_up_after:
            await self.record(message.message_id, "failed", error=f"gave up: {reason}")
            return
        wait_key = streams.outbound_wait(self.kind, message.message_id)
        await redis.set(wait_key, "1", px=max(1, int(wait * 1000)))
        log.info("send %d parked for %.1f s: %s", message.message_id, wait, reason)
        raise Retry(f"send {message.message_id}: {reason}", after=wait)

    async def record(
        self,
        message_id: int,
        status: Status,
        external_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Report a delivery outcome to the router, which records it and tells the console."""
        self.bus.metrics.messages_out.labels(self.kind, status).inc()
        await report_outcome(self.bus, message_id, status, external_id=external_id, error=error)


async def report_outcome(
    bus: Bus,
    message_id: int,
    status: Status,
    external_id: str | None = None,
    error: str | None = None,
) -> None:
    """Publish what became of a send for the router, the only writer of messages."""
    outcome = DeliveryOutcome(
        message_id=message_id, status=status, external_id=external_id, error=error
    )
    await bus.publish(streams.COMMANDS, outcome)


async def report_receipt(bus: Bus, receipt: Receipt) -> None:
    """Publish a platform's delivery report for the router to apply to the message it names."""
    await bus.publish(
        streams.COMMANDS,
        DeliveryReceipt(
            channel_id=receipt.channel_id,
            external_id=receipt.external_id,
            status=receipt.status,
            error=receipt.error,
        ),
    )
