"""Leases in Redis: one holder at a time for a named resource (an inbound shard)."""

from __future__ import annotations

from redis.asyncio import Redis

# Renew or release only when the lease is still ours: compare-and-set in one script.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease:
    """A lease on ``name`` held by ``holder`` for ``ttl_ms`` unless renewed."""

    def __init__(self, redis: Redis, name: str, holder: str, ttl_ms: int = 15_000) -> None:
        self.redis = redis
        self.key = f"lease:{name}"
        self.holder = holder
        self.ttl_ms = ttl_ms
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it (or we already do)."""
        if await self.redis.set(self.key, self.holder, nx=True, px=self.ttl_ms):
            return True
        return await self.renew()

    async def renew(self) -> bool:
        """Extend the lease; False when it was lost to another holder."""
        return bool(await self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))

    async def release(self) -> None:
        """Give the lease up if we hold it."""
        await self._release(keys=[self.key], args=[self.holder])
