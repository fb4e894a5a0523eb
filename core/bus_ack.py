"""The ack policy of a consumer (``core.bus``): how each entry it read is settled.

An entry handled without error is acked with its failure count dropped. A failed one counts
a failure in the group's failure hash; a ``Retry`` is parked in the delayed set
(``core.bus_delayed``), anything else stays pending for the reclaim. A ``Permanent`` error, a
malformed entry, and an entry at ``max_deliveries`` go to the dead-letter stream
``dlq.{<stream>}`` with their reason, in one transaction with their ack.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from redis.asyncio import Redis

from core import streams
from core.bus_config import BusConfig, Permanent, Retry
from core.bus_delayed import DelayedRetries
from core.bus_tail import FIELD, payload_of
from core.delivery import Delivery
from core.metrics import HubMetrics

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class AckPolicy(Generic[T]):
    """Settles the entries one consumer group reads from one stream."""

    redis: Redis
    stream: str
    group: str
    config: BusConfig
    metrics: HubMetrics
    delayed: DelayedRetries[T]
    """Where a retried entry is parked; its failure hash is this policy's too."""

    @property
    def failures_key(self) -> str:
        """The hash of failure counts by entry id."""
        return self.delayed.failures_key

    async def ack(self, ids: list[str], first_delivery: bool = False) -> None:
        """Ack entries that need nothing more, and forget their failures.

        ``first_delivery``: the entries came from a read of new entries (``>``) and were
        handled in that delivery, so no failure of theirs was ever counted (a failure leaves
        an entry pending, and only a reclaim hands it out again): the XACK goes alone.
        """
        if not ids:
            return
        if first_delivery:
            await self.redis.xack(self.stream, self.group, *ids)
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.xack(self.stream, self.group, *ids)
        pipe.hdel(self.failures_key, *ids)
        await pipe.execute()

    async def malformed(self, entry_id: str, fields: Any, exc: Exception) -> None:
        """Dead-letter an entry whose payload does not parse."""
        await self.dead_letter(entry_id, fields, f"malformed entry: {_reason(exc)}")

    async def failed(self, delivery: Delivery[T], exc: Exception, fields: Any) -> None:
        """Count a failure of ``delivery``'s handler; park, leave pending or dead-letter it."""
        reason = f"{type(exc).__name__}: {exc}"
        self.metrics.consumer_failures.labels(self.stream).inc()
        if isinstance(exc, Permanent):
            await self.dead_letter(delivery.id, fields, reason)
            return
        failures = await self.redis.hincrby(self.failures_key, delivery.id, 1)
        count = delivery.deliveries + failures
        if count >= self.config.max_deliveries:
            await self.dead_letter(delivery.id, fields, reason, deliveries=count)
            return
        if isinstance(exc, Retry):
            wait = self.config.retry_backoff.delay(count, exc.after)
            await self.delayed.park(self.delayed.entry(delivery, count), wait)
            log.info(
                "entry %s of %s will be retried in %.1f s: %s",
                delivery.id,
                self.stream,
                wait,
                reason,
            )
        else:
            log.exception(
                "entry %s of %s failed (%d/%d)",
                delivery.id,
                self.stream,
                count,
                self.config.max_deliveries,
                exc_info=exc,
            )

    async def dead_letter(
        self, entry_id: str, fields: Any, reason: str, deliveries: int = 1
    ) -> None:
        """Move an entry to the dead-letter stream with ``reason``, and ack it."""
        log.error(
            "entry %s of %s goes to the dead-letter stream: %s", entry_id, self.stream, reason
        )
        data = _payload_or_repr(fields)
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(
            streams.dead_letter(self.stream),
            {
                FIELD: data,
                "error": reason,
                "stream": self.stream,
                "id": entry_id,
                "group": self.group,
                "deliveries": str(deliveries),
            },
            maxlen=self.config.maxlen,
            approximate=True,
        )
        pipe.xack(self.stream, self.group, entry_id)
        pipe.hdel(self.failures_key, entry_id)
        await pipe.execute()


def _reason(exc: Exception) -> str:
    # Without the input: the log and the dead-letter reason must never quote a message's text.
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
        )
    return f"{type(exc).__name__}: {exc}"


def _payload_or_repr(fields: Any) -> str:
    try:
        return payload_of(fields)
    except (KeyError, TypeError, UnicodeDecodeError):
        return repr(fields)
