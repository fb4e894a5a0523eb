"""The widget's message budget, counted in Redis per visitor and per address.

A visitor may open many sockets (tabs, or a script), and the hub may run in several processes:
the budget is therefore one counter per visitor in a fixed window, shared by all of them, and a
wider one per client address caps what many tokens from one machine may send.

What must be atomic is only a counter's increment with the start of its window, so one script
counts both counters in one call; on a Redis Cluster the two keys live in different slots, and
each counter is a call of its own there. A script is one command on every message, where a
MULTI/SET/INCR/EXEC transaction per counter was four per counter.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

WINDOW_S = 10
MAX_PER_VISITOR = 20
MAX_PER_ADDRESS = 1000
"""An office behind one address may chat at once; a flood from it may not."""

# Per key: INCR, and the first message of a window starts its expiry: both or neither.
# Returns the counts in the order of KEYS.
_COUNT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  counts[i] = n
end
return counts
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
        if isinstance(self.redis, RedisCluster):
            by_visitor, by_address = await asyncio.gather(
                self._count(visitor_key, window), self._count(address_key, window)
            )
        else:
            by_visitor, by_address = await self._counts([visitor_key, address_key], window)
        return by_visitor <= self.budget.per_visitor and by_address <= ceiling

    async def _count(self, key: str, window_s: int) -> int:
        (count,) = await self._counts([key], window_s)
        return count

    async def _counts(self, keys: list[str], window_s: int) -> list[int]:
        counts = await self._count_script(keys=keys, args=[window_s])
        return [int(n) for n in counts]
