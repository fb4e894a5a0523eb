"""Batches that wait for the router's transaction go in together: a group commit.

The router runs one transaction at a time per process, and each of its streams (the inbound
shards, the commands, the timers) has a consumer of its own. While the writer works on one
batch, the other consumers read theirs and wait. Handled one after another, every small batch
pays a transaction, a publish round trip and the fixed reads of a batch of its own, and the
set-wise runs stay short: under load most inbound batches held a single message. Handled as one,
in the order they came, they share all of that.

Nothing changes for a consumer: ``submit`` returns once its batch is committed and the effects
published, and raises what its batch alone raised. A group that fails is handled again one
batch at a time, so one bad entry fails only the batch that holds it (and its consumer then
retries that batch entry by entry, as always). A group that failed because Redis was away is
not split: every batch in it failed for the same reason and stays pending.

At a moderate rate the writer is often free when an entry comes, and each entry pays a
transaction of its own: a router may let a small group wait a moment for others while it is
busy (``Gathering``, off by default: it trades latency for CPU).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

Waiter = tuple[Sequence[T], "asyncio.Future[None]"]


@dataclass
class Gathering:
    """When a small group waits a moment for more entries before it starts.

    The router's transaction for two inbound messages costs about what it costs for one, and
    for five about half again (docs/BENCHMARKS.md): what a transaction costs is mostly fixed.
    At 100–200 visitor messages a second the writer is often free when an entry comes, so each
    entry paid that fixed cost alone. While entries come faster than ``busy_per_s`` (counted
    over the last ``horizon_s``, decaying), a group of fewer than ``enough`` entries waits up
    to ``window_s`` for others; a router that is not busy starts at once, so an idle hub's
    message waits for nothing."""

    window_s: float = 0.004
    busy_per_s: float = 300.0
    enough: int = 8
    horizon_s: float = 0.05
    clock: Callable[[], float] = time.monotonic
    _level: float = field(default=0.0, init=False)
    _at: float = field(default=0.0, init=False)

    def arrived(self, entries: int) -> None:
        """Count ``entries`` that came in just now."""
        now = self.clock()
        self._level = self._level * math.exp((self._at - now) / self.horizon_s) + entries
        self._at = now

    def wait_s(self, waiting: int) -> float:
        """How long a group of ``waiting`` entries waits for more before it starts."""
        if waiting >= self.enough or self.window_s <= 0:
            return 0.0
        level = self._level * math.exp((self._at - self.clock()) / self.horizon_s)
        return self.window_s if level >= self.busy_per_s * self.horizon_s else 0.0


class GroupCommit(Generic[T]):
    """Runs ``handle`` on one batch at a time, or on every batch that waited, concatenated."""

    def __init__(
        self,
        handle: Callable[[Sequence[T]], Awaitable[None]],
        shared_failures: tuple[type[BaseException], ...] = (),
        gathering: Gathering | None = None,
    ) -> None:
        self._handle = handle
        self.gathering = gathering
        """How a small group waits for more while the consumers are busy; None: never."""
        self._gathered: asyncio.Event | None = None
        """Set while a group gathers, once it has ``enough`` entries."""
        self._shared_failures = shared_failures
        """Failures that are nobody's entry's fault: a group meeting one is not split."""
        self._lock = asyncio.Lock()
        self._waiting: list[Waiter[T]] = []

    def waiting(self) -> int:
        """How many batches wait for the turn now."""
        return len(self._waiting)

    async def submit(self, batch: Sequence[T]) -> None:
        """Handle ``batch``, alone or with the others waiting; return once it is done."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        mine: Waiter[T] = (batch, done)
        self._waiting.append(mine)
        gathering = self.gathering
        if gathering is not None:
            gathering.arrived(len(batch))
            if self._gathered is not None and self._entries() >= gathering.enough:
                self._gathered.set()
        try:
            async with self._lock:
                if not done.done():
                    if gathering is not None:
                        await self._gather(gathering)
                    group, self._waiting = self._waiting, []
                    await self._run(group, mine)
        except asyncio.CancelledError:
            # A consumer told to stop while it waited: its entries stay pending for later.
            self._waiting = [w for w in self._waiting if w is not mine]
            raise
        await done

    def _entries(self) -> int:
        return sum(len(batch) for batch, _done in self._waiting)

    async def _gather(self, gathering: Gathering) -> None:
        """Let other consumers' batches join a small group for a moment (``Gathering``)."""
        wait = gathering.wait_s(self._entries())
        if not wait:
            return
        self._gathered = asyncio.Event()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._gathered.wait()
        finally:
            self._gathered = None

    async def _run(self, group: list[Waiter[T]], mine: Waiter[T]) -> None:
        try:
            if len(group) > 1 and await self._together(group):
                return
            for batch, done in group:
                await self._settle(done, self._handle(batch))
        except asyncio.CancelledError:
            # Our consumer was stopped (its lease lost, or the process stops). The others were
            # not: their batches wait again, and the next of them to get the lock handles them.
            # Whatever of ours the writer still committed is handled again later; every
            # handler takes a repeat.
            self._waiting[:0] = [w for w in group if w is not mine and not w[1].done()]
            raise

    async def _together(self, group: list[Waiter[T]]) -> bool:
        """Handle the group as one batch; False when it must be handled batch by batch."""
        try:
            await self._handle([item for batch, _done in group for item in batch])
        except self._shared_failures as exc:
            for _batch, done in group:
                _fail(done, exc)
            return True
        except Exception:
            return False
        for _batch, done in group:
            done.set_result(None)
        return True

    @staticmethod
    async def _settle(done: asyncio.Future[None], handled: Awaitable[None]) -> None:
        try:
            await handled
        except Exception as exc:
            _fail(done, exc)
        else:
            done.set_result(None)


def _fail(done: asyncio.Future[None], exc: BaseException) -> None:
    done.set_exception(exc)
    # Retrieved by its consumer, unless that one stopped meanwhile: no warning either way.
    done.exception()
