"""Leases in Redis: one holder at a time for a named resource (an inbound shard), and the
live members of a group that shares such leases out."""

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


# Scored by Redis's own clock, so members on machines whose clocks differ agree on who is live.
_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
return redis.call('ZCARD', KEYS[1])
"""


class Members:
    """The live members of a group that shares a set of leases, so each can take a fair share.

    Every member beats at least once per ``ttl_ms``; one that stops beating (it died) drops
    out after ``ttl_ms``, the same time its leases take to expire.
    """

    def __init__(self, redis: Redis, name: str, member: str, ttl_ms: int = 15_000) -> None:
        self.redis = redis
        self.key = f"members:{name}"
        self.member = member
        self.ttl_ms = ttl_ms
        self._beat = redis.register_script(_BEAT)

    async def beat(self) -> int:
        """Say this member is alive; returns how many members are (this one included)."""
        return int(await self._beat(keys=[self.key], args=[self.member, self.ttl_ms]))

    async def leave(self) -> None:
        """Drop out at once, so the others take over without waiting for ``ttl_ms``."""
        await self.redis.zrem(self.key, self.member)
