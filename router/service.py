"""Runs the router: one consumer per stream it owns, with a lease per stream.

Messages of one client must be handled in order, so each inbound shard (and the command stream)
has one consumer at a time across all router processes: whoever holds the stream's lease. A
process that dies stops renewing; another takes the lease within its TTL and reclaims the dead
consumer's pending entries with XAUTOCLAIM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pydantic import TypeAdapter

from core import streams
from core.bus import Bus
from core.envelope import InboundMessage, RouterInput
from core.lease import Lease
from router.actions import Router

log = logging.getLogger(__name__)

ROUTER_INPUT: TypeAdapter[RouterInput] = TypeAdapter(RouterInput)


def client_of(payload: RouterInput) -> str | None:
    """The ordering key of router input: a client's messages stay in order across retries."""
    if isinstance(payload, InboundMessage):
        return streams.client_key(payload.channel_id, payload.external_user_id)
    return None


def router_streams(shards: int) -> list[str]:
    """Every stream the router consumes."""
    return [streams.inbound(i) for i in range(shards)] + [streams.COMMANDS, streams.TIMERS]


class RouterService:
    """Holds leases on the router's streams and runs a consumer for each one it holds."""

    def __init__(
        self, router: Router, bus: Bus, shards: int, name: str, lease_ttl_ms: int = 15_000
    ) -> None:
        self.router = router
        self.bus = bus
        self.name = name
        self.leases = {
            s: Lease(bus.redis, f"router:{s}", name, lease_ttl_ms) for s in router_streams(shards)
        }
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.lease_ttl_ms = lease_ttl_ms

    async def run(self) -> None:
        """Keep leases and consumers going until the bus closes; then release the leases."""
        stopping = self.bus.stopping
        try:
            while not stopping.is_set():
                await self._tend()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.lease_ttl_ms / 3000)
        finally:
            tasks = list(self.tasks.values())
            if tasks:
                # Consumers see the closed bus after their current read (block_ms at most).
                _done, late = await asyncio.wait(tasks, timeout=self.bus.config.block_ms / 1000 + 5)
                for task in late:
                    task.cancel()
            for stream in list(self.tasks):
                with contextlib.suppress(Exception):
                    await self.leases[stream].release()

    async def _tend(self) -> None:
        for stream, lease in self.leases.items():
            task = self.tasks.get(stream)
            if task is not None and task.done():
                if not task.cancelled() and task.exception() is not None:
                    log.error("consumer of %s stopped: %r; restarting", stream, task.exception())
                del self.tasks[stream]
                task = None
            if task is not None:
                if not await lease.renew():
                    log.warning("lost the lease on %s; stopping its consumer", stream)
                    task.cancel()
                    del self.tasks[stream]
            elif await lease.acquire():
                consumer = self.bus.consumer(
                    stream,
                    streams.ROUTER_GROUP,
                    self.name,
                    self.router.handle,
                    ROUTER_INPUT,
                    ordering=client_of,
                )
                self.tasks[stream] = asyncio.create_task(consumer.run(), name=f"router:{stream}")
