"""How many files a visitor, and how many megabytes a client address, may upload to the
widget in an hour, counted in Redis across processes.

A visitor token costs nothing (any page that opens the widget gets one), and every upload is
written to the hub's disk before any message carries it: without a budget, one script could
fill the disk. The count is taken once the body is read and before anything is stored, so
what is refused never reaches the disk. Refused uploads count too, as refused messages do.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

WINDOW_S = 3600

# KEYS[1]: a counter; ARGV: the amount to add, the window (s). The first addition of a window
# starts its expiry. Returns the new count and the seconds left in the window.
_ADD = """
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {n, redis.call('TTL', KEYS[1])}
"""


@dataclass(frozen=True)
class UploadBudget:
    """Uploads a visitor and megabytes an address may send per hour (0: unlimited)."""

    files_per_visitor: int = 60
    mb_per_address: int = 1000


class UploadRate:
    """Counts the widget's uploads per visitor and per address."""

    def __init__(self, redis: Redis, budget: UploadBudget) -> None:
        self.budget = budget
        self._add: AsyncScript = redis.register_script(_ADD)

    async def wait_s(self, channel_id: int, visitor_id: str, address: str, size: int) -> int:
        """Count an upload of ``size`` bytes; 0 when it may be stored, else the seconds until
        the budget it is over starts again."""
        waits: list[int] = []
        # One key a call: the two may live on different nodes of a Redis Cluster.
        if self.budget.files_per_visitor:
            key = f"rate:webchat:uploads:{channel_id}:{visitor_id}"
            waits.append(await self._over(key, 1, self.budget.files_per_visitor))
        if self.budget.mb_per_address:
            key = f"rate:webchat:upload-bytes:{address}"
            waits.append(await self._over(key, size, self.budget.mb_per_address * 1024 * 1024))
        return max(waits, default=0)

    async def _over(self, key: str, amount: int, ceiling: int) -> int:
        count, ttl = await self._add(keys=[key], args=[amount, WINDOW_S])
        return 0 if int(count) <= ceiling else max(int(ttl), 1)
