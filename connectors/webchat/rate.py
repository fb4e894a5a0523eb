"""The widget's message budget, counted in Redis per visitor and per address.

A visitor may open many sockets (tabs, or a script), and the hub may run in several processes:
the budget is therefore one counter per visitor in a fixed window, shared by all of them, and a
wider one per client address caps what many tokens from one machine may send.

Each counter is its own script call: on a Redis Cluster the two keys live in different slots,
and what must be atomic is only a counter's increment with the start of its window. A script
is one command per counter on every message, where a MULTI/SET/INCR/EXEC transaction was four.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

WINDOW_S = 10
MAX_PER_VISITOR = 20
MAX_PER_ADDRESS = 1000
"""An office behind one address may chat at once; a flood from it may not."""

# INCR, and the first message of a window starts its expiry: both or neither.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


@dataclass(frozen=True)
class RateBudget:
    """How many messages a visitor and an address (0: unlimited) may send per window."""

    window_s: int = WINDOW_S
    per_visitor: int = MAX_PER_VISITOR
    per_address: int = MAX_PER_ADDRESS


class VisitorRate:
    """Counts visitors' messages across sockets and processes."""

    def __init__(self, redis: Redis, budget: RateBudget | None = None) -> None:
        self.redis = redis
        self.budget = budget or RateBudget()
        self._count_script: AsyncScript = redis.register_script(_COUNT)

    async def check_allowed(self, channel_id: int, visitor_id: str, address: str) -> bool:
        """Count one message; False when the visitor or the address is over its budget."""
        window = self.budget.window_s
        visitor_key = f"rate:webchat:visitor:{channel_id}:{visitor_id}"
        address_key = f"rate:webchat:ip:{address}"
        ceiling = self.budget.per_address
        if not ceiling:  # no ceiling per address: nothing to count there
            return await self._count(visitor_key, window) <= self.budget.per_visitor
        by_visitor, by_address = await asyncio.gather(
            self._count(visitor_key, window), self._count(address_key, window)
        )
        return by_visitor <= self.budget.per_visitor and by_address <= ceiling

    async def _count(self, key: str, window_s: int) -> int:
        return int(await self._count_script(keys=[key], args=[window_s]))
