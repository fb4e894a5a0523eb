"""The widget's message budget, counted in Redis per visitor and per address.

A visitor may open many sockets (tabs, or a script), and the hub may run in several processes:
the budget is therefore one counter per visitor in a fixed window, shared by all of them, and a
wider one per client address caps what many tokens from one machine may send.

What must be atomic is only a counter's increment with the start of its window, so one script
counts both counters in one call; on a Redis Cluster the two keys live in different slots, and
each counter is a call of its own there. A script is one command on every message, where a
MULTI/SET/INCR/EXEC transaction per counter was four per counter.

A message the budget allows is queued by the same script (``queue_if_allowed``): counting and
queueing are one round trip. That holds where one script may touch the counters and the
inbound stream (not on a cluster) and no replica has to confirm the entry: with one connected,
the message is counted first and then queued through ``Bus.publish_replicated``. The script
shares its round trip with the other commands of the same turn of the loop (``core.coalesce``):
under load, a dozen visitors' messages go to Redis together.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from core import published
from core.bus import Bus
from core.bus_tail import FIELD
from core.envelope import InboundMessage

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

# KEYS: the counters, then the inbound stream. ARGV: window (s), maxlen, field, payload, then
# each counter's ceiling. Counts every counter, as ``_COUNT``; queues the payload and returns
# its entry id when no counter is over its ceiling, else false (nil).
_COUNT_AND_QUEUE = """
local over = false
for i = 1, #KEYS - 1 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
  if n > tonumber(ARGV[4 + i]) then over = true end
end
if over then return false end
return redis.call('XADD', KEYS[#KEYS], 'MAXLEN', '~', ARGV[2], '*', ARGV[3], ARGV[4])
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
        self._queue_script: AsyncScript = redis.register_script(_COUNT_AND_QUEUE)

    async def queue_if_allowed(self, bus: Bus, stream: str, message: InboundMessage,
                               address: str) -> bool:  # fmt: skip
        """Count ``message`` against its visitor's and its address's budgets and, when both
        allow it, queue it on ``stream`` as ``bus.publish_replicated`` does; False when over
        budget (counted, not queued)."""
        channel_id, visitor_id = message.channel_id, message.external_user_id
        replicated = bus.replicated
        if isinstance(self.redis, RedisCluster) or (
            replicated.wait_ms and await replicated.replicas()
        ):
            if not await self.check_allowed(channel_id, visitor_id, address):
                return False
            await bus.publish_replicated(stream, message)
            return True
        keys = [_visitor_key(channel_id, visitor_id)]
        ceilings = [self.budget.per_visitor]
        if self.budget.per_address:  # no ceiling per address: nothing to count there
            keys.append(_address_key(address))
            ceilings.append(self.budget.per_address)
        text = published.encoded(stream, message)
        args: list[str | int] = [self.budget.window_s, bus.config.maxlen, FIELD, text]
        args += ceilings
        entry_id = await self._queue(bus, [*keys, stream], args)
        if entry_id is None:
            return False
        bus.metrics.messages_in.labels(str(channel_id)).inc()
        return True

    async def _queue(self, bus: Bus, keys: list[str], args: list[str | int]) -> object:
        """The counting and queueing script, in the round trip the other commands of this turn
        share (``core.coalesce``); loaded first where Redis does not have it (a restart)."""
        script = self._queue_script
        try:
            return await bus.coalesced.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await script(keys=keys, args=args)

    async def check_allowed(self, channel_id: int, visitor_id: str, address: str) -> bool:
        """Count one message; False when the visitor or the address is over its budget."""
        window = self.budget.window_s
        visitor_key = _visitor_key(channel_id, visitor_id)
        address_key = _address_key(address)
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


def _visitor_key(channel_id: int, visitor_id: str) -> str:
    return f"rate:webchat:visitor:{channel_id}:{visitor_id}"


def _address_key(address: str) -> str:
    return f"rate:webchat:ip:{address}"
