"""The consumers of one kind of channel's streams, running only while the kind has an account.

A hub without a Telegram, VK, Viber or email account should cost nothing for those kinds: no
reads of ``raw.<kind>`` or ``out.<kind>`` renewed every ``block_ms``. So a connector starts its
consumers when its accounts (re)load and the first account of its kind appears, and stops them
when none is left; the account watch (``connectors.accounts``) hears of both through the
console's change notices, without polling.

The streams' consumer groups keep whatever arrived meanwhile: entries pending on a stopped
consumer are read again first when it starts (same consumer name), and those of a consumer
that died are reclaimed after ``claim_idle_ms``, so nothing is lost between a stop and a start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from core.bus import Bus
from core.consumer_stop import stop_consumers

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
Jobs = Callable[[Bus], Sequence[Job]]
"""Makes a kind's consumers on the bus given (whose stop flag stops only them)."""

RESTART_S = 1.0
"""The pause before a crashed consumer runs again, as the hub's own components do."""


class KindWorkers:
    """Starts and stops the consumers of one kind of channel as a group."""

    def __init__(self, kind: str, jobs: Jobs) -> None:
        self.kind = kind
        self.jobs = jobs
        self._own: Bus | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        """Whether the consumers were started (and not stopped since)."""
        return self._own is not None

    async def want(self, bus: Bus, running: bool) -> None:
        """Start the consumers (on a sibling of ``bus`` with a stop flag of their own), or stop
        them, unless they already are."""
        if running and self._own is None and not bus.stopping.is_set():
            self._own = bus.sibling()
            self._tasks = [asyncio.create_task(self._keep(job, self._own)) for job in
                           self.jobs(self._own)]  # fmt: skip
            log.info("%s consumers started: the kind has an account", self.kind)
        elif not running and self._own is not None:
            await self.stop()
            log.info("%s consumers stopped: the kind has no account", self.kind)

    async def stop(self) -> None:
        """Have the consumers finish the batch in hand and return; cancel any that does not
        within the bus's read time and a grace period (its entries stay pending)."""
        own, tasks = self._own, self._tasks
        self._own, self._tasks = None, []
        if own is None:
            return
        await stop_consumers(own, tasks)

    async def _keep(self, job: Job, own: Bus) -> None:
        while not own.stopping.is_set():
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("a %s consumer crashed; restarting in %.0f s", self.kind, RESTART_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(own.stopping.wait(), RESTART_S)
