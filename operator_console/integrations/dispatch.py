"""Outgoing event webhooks: from the ``events`` stream to signed POSTs, retried through the bus.

Two consumers in the group ``webhooks``. The first reads ``events`` and, for every integration
event an entry carries (``core.integration_events.carried``) and active webhook subscribed to
it, writes a row to the delivery log and queues one ``WebhookDelivery`` on ``webhooks.out``.
The second sends a batch of those at once: a 2xx is delivered; a 5xx, 408, 429 or no answer
is parked in the bus's delayed set for the backoff's wait and put back on the stream after it
(each entry on its own, so the batch's other deliveries are acked and never sent twice);
another 4xx is a refusal, logged and not retried.
After ``max_tries`` the delivery is given up and marked ``failed``.
Only the webhook's id is ever logged: never its secret, and not its URL either (URLs of some
receivers carry a key of their own).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

import aiohttp
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import streams
from core.backoff import Backoff
from core.bus import Bus, Consumer, Delivery, Retry
from core.bus_tail import until_stopped
from core.db import SessionMaker
from core.db.integrations_schema import Webhook, WebhookAttempt
from core.envelope import ENVELOPE, Envelope, IntegrationEvent, WebhookDelivery, utcnow
from core.http_answer import answer_head
from core.integration_events import carried
from operator_console.integrations.active_hooks import ActiveHooks
from operator_console.integrations.delivery_log import admin_ids, delivery_event
from operator_console.integrations.signing import (
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    signature,
)

log = logging.getLogger(__name__)

DELIVERY: TypeAdapter[WebhookDelivery] = TypeAdapter(WebhookDelivery)
RESPONSE_KEPT = 1000
"""How much of a receiver's answer the delivery log keeps."""
RETRY_STATUSES = frozenset({408, 429})
"""4xx answers that mean "later", not "never"."""


def event_body(event: IntegrationEvent) -> dict[str, Any]:
    """What a webhook receives (and the realtime API sends) for one event."""
    return {
        "id": event.id,
        "type": event.event,
        "version": event.v,
        "created_at": event.at.isoformat(),
        "data": event.data,
    }


class WebhookSender:
    """The two consumers of the ``webhooks`` group; ``run`` them in a task."""

    def __init__(
        self,
        sessions: SessionMaker,
        bus: Bus,
        backoff: Backoff,
        max_tries: int = 8,
        timeout_s: float = 10.0,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.backoff = backoff
        self.max_tries = max_tries
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.hooks = ActiveHooks(sessions)
        self._http: aiohttp.ClientSession | None = None
        self._sends: Consumer[WebhookDelivery] | None = None

    async def run(self, name: str) -> None:
        """Fan events out and send deliveries until the bus closes."""
        with self.hooks.watching():
            await self._run(name)

    async def _run(self, name: str) -> None:
        async with aiohttp.ClientSession(timeout=self.timeout) as http:
            self._http = http
            events = self.bus.consumer(
                streams.EVENTS,
                streams.WEBHOOKS_GROUP,
                name,
                self.fan_out,
                ENVELOPE,
                gate=self.until_a_hook_is_active,
            )
            self._sends = self.bus.consumer(
                streams.WEBHOOK_DELIVERIES, streams.WEBHOOKS_GROUP, name, self.send, DELIVERY
            )
            await asyncio.gather(events.run(), self._sends.run())

    async def until_a_hook_is_active(self) -> None:
        """Return once a webhook is active, or the bus stops.

        Meanwhile the group is moved past the events that no webhook was there for, so they
        are never read: most hubs have no webhook, and reading each event only to drop it cost
        a read, an ack and a parse for every batch of the stream. The newest entry is taken
        before the webhooks are read, so an event after a webhook is saved in this process is
        never skipped; one saved in another process is seen within the read's seconds
        (``ActiveHooks``), as before. A webhook saved while none was active may also receive
        events of the seconds before it: those after the group was last moved.
        """
        redis, stopping = self.bus.redis, self.bus.stopping
        while not stopping.is_set():
            self.hooks.forget_changes()
            newest: Any = await redis.xrevrange(streams.EVENTS, count=1)
            if await self.hooks.read():
                return
            if newest:
                await redis.xgroup_setid(streams.EVENTS, streams.WEBHOOKS_GROUP, newest[0][0])
            await until_stopped(partial(self.hooks.changed, self.hooks.seconds), stopping)

    async def fan_out(self, batch: Sequence[Delivery[Envelope]]) -> None:
        """Log and queue one delivery per event and subscribed webhook."""
        if self.hooks.none_known():
            return  # what follows would find no webhook: spared building every event
        carrying = (carried(d.payload) for d in batch)
        events = [event for event in carrying if event is not None]
        if not events:
            return
        hooks = await self.hooks.read()
        pairs = [(h, e) for e in events for h, subscribed in hooks if e.event in subscribed]
        if not pairs:
            return
        try:
            async with self.sessions() as session, session.begin():
                logged = set(
                    await session.execute(
                        select(WebhookAttempt.webhook_id, WebhookAttempt.event_id).where(
                            tuple_(WebhookAttempt.webhook_id, WebhookAttempt.event_id).in_(
                                [(h, e.id) for h, e in pairs]
                            )
                        )
                    )
                )
                new = [_logged(h, e) for h, e in pairs if (h, e.id) not in logged]
                session.add_all(new)
                await session.flush()
                shown = await _shown(session, new)
        except IntegrityError as exc:
            raise Retry("another process logged the same delivery first") from exc
        # Queued even when logged before: a crash between commit and publish is redone here,
        # and the sender skips a delivery that is no longer pending.
        queued: list[tuple[str, BaseModel]] = [
            (streams.WEBHOOK_DELIVERIES, WebhookDelivery(webhook_id=h, event=e)) for h, e in pairs
        ]
        await self.bus.publish_many(queued + shown)

    async def send(self, batch: Sequence[Delivery[WebhookDelivery]]) -> None:
        """Send a batch at once, and park each delivery to be tried again after its wait."""
        assert self._sends is not None, "run() makes the consumer"
        delayed = self._sends.delayed
        waits = await asyncio.gather(*(self._send_one(d.payload) for d in batch))
        for delivery, wait in zip(batch, waits, strict=True):
            if wait is not None:
                await delayed.park(delayed.entry(delivery, delivery.deliveries + 1), wait)

    async def _send_one(self, delivery: WebhookDelivery) -> float | None:
        """Try one delivery; the wait before the next try, or None when there is none."""
        async with self.sessions() as session:
            hook = await session.get(Webhook, delivery.webhook_id)
            attempt = await _attempt(session, delivery)
            if hook is None or attempt is None or attempt.status != "pending" or not hook.active:
                return None
            url, secret, payload = hook.url, hook.secret, attempt.payload
        status, answer = await self._post(url, secret, delivery.event, payload)
        retry = status is None or status >= 500 or status in RETRY_STATUSES
        async with self.sessions() as session, session.begin():
            attempt = await _attempt(session, delivery)
            if attempt is None:
                return None
            attempt.attempts += 1
            attempt.response_status = status
            attempt.response_body = answer[:RESPONSE_KEPT]
            attempt.last_attempt_at = utcnow()
            if status is not None and 200 <= status < 300:
                attempt.status = "delivered"
            elif not retry or attempt.attempts >= self.max_tries:
                attempt.status = "failed"
            tries, final = attempt.attempts, attempt.status
            shown = await _shown(session, [attempt])
        await self.bus.publish_many(shown)
        if final == "pending":
            wait = self.backoff.delay(tries)
            log.info("webhook %d answered %s; try %d in %.1f s", delivery.webhook_id, status,
                     tries + 1, wait)  # fmt: skip
            return wait
        if final == "failed":
            log.warning("webhook %d: event %s given up after %d tries (last answer %s)",
                        delivery.webhook_id, delivery.event.id, tries, status)  # fmt: skip
        return None

    async def _post(
        self, url: str, secret: str, event: IntegrationEvent, payload: dict[str, Any]
    ) -> tuple[int | None, str]:
        assert self._http is not None, "run() opens the HTTP session"
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(secret, int(time.time()), body),
            EVENT_HEADER: event.event,
            EVENT_ID_HEADER: event.id,
            "User-Agent": "Openlines-Webhooks/1",
        }
        try:
            async with self._http.post(url, data=body, headers=headers) as resp:
                return resp.status, await answer_head(resp, RESPONSE_KEPT)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            # ValueError: a URL the admin saved that the client cannot use (a bad host name).
            return None, f"no answer: {type(exc).__name__}"


async def _shown(
    session: AsyncSession, rows: Sequence[WebhookAttempt]
) -> list[tuple[str, BaseModel]]:
    """The live frames of ``rows`` for the admins' open delivery logs (``delivery_log``)."""
    if not rows:
        return []
    admins = await admin_ids(session)
    return [(streams.EVENTS, delivery_event(row, admins)) for row in rows] if admins else []


def _logged(webhook_id: int, event: IntegrationEvent) -> WebhookAttempt:
    return WebhookAttempt(
        webhook_id=webhook_id,
        event_id=event.id,
        event=event.event,
        status="pending",
        attempts=0,
        response_body="",
        payload=event_body(event),
        created_at=utcnow(),
    )


async def _attempt(session: Any, delivery: WebhookDelivery) -> WebhookAttempt | None:
    found: WebhookAttempt | None = await session.scalar(
        select(WebhookAttempt).where(
            WebhookAttempt.webhook_id == delivery.webhook_id,
            WebhookAttempt.event_id == delivery.event.id,
        )
    )
    return found
