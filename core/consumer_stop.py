"""Stopping the consumers that run on one bus: by the bus's stop flag first, by cancel last.

Stopping by flag lets a consumer finish the batch in hand, so it is acked; a read still blocked
on a quiet stream is cancelled at once by the consumer itself (``core.bus_tail.until_stopped``),
so a long ``block_ms`` delays no stop. Only a consumer that has not returned within the bus's
read time and a grace period is cancelled here; what it held stays pending, to be read again or
reclaimed like a crashed consumer's entries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection

from core.bus import Bus

GRACE_S = 8.0
"""How long past the bus's read time a consumer may take to finish the batch in hand."""


async def stop_consumers(bus: Bus, tasks: Collection[asyncio.Task[None]]) -> None:
    """Close ``bus`` and wait for ``tasks`` to return; cancel those that do not in time."""
    bus.close()
    if not tasks:
        return
    _done, late = await asyncio.wait(tasks, timeout=bus.config.block_ms / 1000 + GRACE_S)
    for task in late:
        task.cancel()
    for task in late:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
