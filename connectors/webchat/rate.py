"""The widget's message budget, counted in Redis per visitor and per address.

A visitor may open many sockets (tabs, or a script), and the hub may run in several processes:
the budget is therefore one counter per visitor in a fixed window, shared by all of them, and a
wider one per client address caps what many tokens from one machine may send.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

WINDOW_S = 10
MAX_PER_VISITOR = 20
MAX_PER_ADDRESS = 1000
"""An office behind one address may chat at once; a flood from it may not."""


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

    async def check_allowed(self, channel_id: int, visitor_id: str, address: str) -> bool:
        """Count one message; False when the visitor or the address is over its budget."""
        window = self.budget.window_s
        visitor_key = f"rate:webchat:visitor:{channel_id}:{visitor_id}"
        address_key = f"rate:webchat:ip:{address}"
        async with self.redis.pipeline(transaction=True) as pipe:
            # SET NX EX starts a window without resetting a running one (any Redis version).
            pipe.set(visitor_key, 0, ex=window, nx=True)
            pipe.incr(visitor_key)
            pipe.set(address_key, 0, ex=window, nx=True)
            pipe.incr(address_key)
            _, by_visitor, _, by_address = await pipe.execute()
        ceiling = self.budget.per_address
        return int(by_visitor) <= self.budget.per_visitor and (
            not ceiling or int(by_address) <= ceiling
        )
