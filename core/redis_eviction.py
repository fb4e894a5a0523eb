"""Whether the hub's Redis may evict keys.

The hub's streams are its queues: an entry evicted under memory pressure is a client's message
or an operator's reply that vanishes without an error anywhere. The embedded Redis never evicts
(no ``maxmemory``); an external one is asked at start, and a policy that evicts is logged as an
error with what to set. Managed services that refuse ``CONFIG GET`` cannot be asked (their
documentation names the policy), and a Redis Cluster's nodes are not.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError


async def eviction_risk(client: aioredis.Redis) -> str | None:
    """What is wrong when ``client``'s server may evict keys; None when it may not, or when it
    does not say."""
    try:
        config = await client.config_get("maxmemory*")
    except RedisError:
        return None
    policy = str(config.get("maxmemory-policy", "noeviction"))
    limit = int(config.get("maxmemory", 0) or 0)
    if policy == "noeviction" or limit == 0:  # no limit: nothing is ever evicted
        return None
    return (
        f"Redis evicts keys past maxmemory {limit} bytes (maxmemory-policy {policy}): "
        "messages in the hub's streams can vanish without a trace; "
        "set maxmemory-policy noeviction (docs/DEPLOY.md)"
    )
