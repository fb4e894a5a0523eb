"""Delivery reports of a moment sent together: one ``DeliveryOutcomes`` entry for many reads.

The delivery tail reports the answers each of its reads showed in open widgets, and the widget
reports what the visitor saw. At a steady rate most reads hold one answer, so each report was
an entry of its own, and the router's batch for it cost about what a visitor's message costs
(``bench.router_batches``: 0.75 ms of CPU for one outcome, 0.08 ms an outcome in a batch of
20). A tick in the console that comes ``window_s`` later is not noticed; gathered, the reports
of that window go in one round trip and one entry, and the router records them in one run.

A report waits at most ``window_s``, or not at all once ``OUTCOMES_MOST`` of them wait. The
claims of the answers shown (``AnswerMail.claim_shown``) do not wait: another process that sees
the visitor gone decides to mail an answer nobody claimed, so a claim held back while the
visitor closes the page would send by mail an answer the widget showed. They go at once, in a
round trip of their own. While Redis is away the claims and the reports wait for it; a caller
that would push the waiting reports past ``OUTCOMES_MOST`` waits too, so the tail that feeds
them is held as it was when it waited for each of its reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from redis.asyncio.client import Pipeline

from core import streams
from core.bus import Bus
from core.envelope import OUTCOMES_MOST, DeliveryOutcome, DeliveryOutcomes, DeliveryStatus
from core.outage import REDIS_DOWN, Outage

log = logging.getLogger(__name__)

CLOSE_WAIT_S = 2.0
"""How long a closing connector waits for Redis to take the reports still waiting."""

Writes = Callable[[Pipeline], object]
"""Writes that go with reports but must not wait: added to a pipeline sent at once."""


class GatheredReports:
    """The delivery reports of one web chat connector, sent ``window_s`` after the first of
    them waits (0: at once)."""

    def __init__(self, bus: Bus, window_s: float) -> None:
        self.bus = bus
        self.window_s = window_s
        self._waiting: list[tuple[int, DeliveryStatus]] = []
        self._sending = asyncio.Lock()
        self._later: asyncio.Task[None] | None = None

    def waiting(self) -> int:
        """How many reports wait to be sent."""
        return len(self._waiting)

    async def report(
        self, message_ids: Sequence[int], status: DeliveryStatus, now: Writes | None = None
    ) -> None:
        """Report ``message_ids`` as ``status`` within ``window_s``; send ``now`` at once."""
        if self.window_s <= 0:
            # Nothing waits: both in one round trip, as before the reports were gathered.
            await self._send([(m, status) for m in message_ids], now)
            return
        if now is not None:
            await self._send([], now)
        if not message_ids:
            return
        self._waiting.extend((m, status) for m in message_ids)
        if len(self._waiting) >= OUTCOMES_MOST:
            await self.flush()
        elif self._later is None:
            self._later = asyncio.create_task(self._send_later())

    async def flush(self) -> None:
        """Send every report waiting now, after any send in progress."""
        async with self._sending:
            waiting, self._waiting = self._waiting, []
            if waiting:
                await self._send(waiting)

    async def close(self) -> None:
        """Send what waits. What Redis does not take within ``CLOSE_WAIT_S`` is lost, as the
        reports of a read the tail had not finished are: a stopping hub does not wait out an
        outage for a tick in the console."""
        with contextlib.suppress(*REDIS_DOWN):
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self.flush()
        later, self._later = self._later, None
        if later is not None:
            later.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await later

    async def _send_later(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(self.window_s)
                await self.flush()
        except REDIS_DOWN:
            # Only while the hub stops (``_send`` waits out an outage otherwise).
            log.info("delivery reports not sent: Redis is away and the hub stops")
        except Exception:
            log.exception("delivery reports not sent")
        finally:
            self._later = None

    async def _send(
        self, waiting: list[tuple[int, DeliveryStatus]], writes: Writes | None = None
    ) -> None:
        entries = entries_of(waiting)
        outage = Outage(streams.COMMANDS, kind="delivery report")
        while True:
            try:
                pipe = self.bus.redis.pipeline(transaction=False)
                self.bus.queue_publish(pipe, entries)
                if writes is not None:
                    writes(pipe)
                await pipe.execute()
            except REDIS_DOWN as exc:
                if self.bus.stopping.is_set():
                    raise
                await outage.wait(exc, self.bus.stopping)
            else:
                outage.over()
                return


def entries_of(
    reports: Sequence[tuple[int, DeliveryStatus]],
) -> list[tuple[str, DeliveryOutcomes]]:
    """The entries of ``cmd`` that carry ``reports``, in their order: as few as
    ``OUTCOMES_MOST`` allows."""
    return [
        (
            streams.COMMANDS,
            DeliveryOutcomes(
                outcomes=tuple(
                    DeliveryOutcome(message_id=m, status=status)
                    for m, status in reports[start : start + OUTCOMES_MOST]
                )
            ),
        )
        for start in range(0, len(reports), OUTCOMES_MOST)
    ]
