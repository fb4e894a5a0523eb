"""Login throttling, kept in Redis so every console process sees the same count.

Failures are counted per login name and per client address. Past half the limit every further
attempt waits an exponentially growing delay (1 s, 2 s, 4 s, …), and at ``max_failures`` the
login (or the address, at ``max_failures_per_ip``) is locked for ``lock_seconds``. A locked
attempt is refused before its password is checked, so a lock says nothing about whether the
login exists.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from redis.asyncio import Redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginLimits:
    """How many failures lock a login or an address, and for how long."""

    max_failures: int = 10
    max_failures_per_ip: int = 50
    lock_seconds: int = 900


def delay_after(failures: int, limit: int, lock_seconds: int) -> float:
    """Seconds before the next attempt after ``failures`` in a row (the lock at ``limit``)."""
    if failures >= limit:
        return float(lock_seconds)
    # Half the limit is forgiven: typos, or colleagues behind one address.
    free = limit // 2
    if failures <= free:
        return 0.0
    return float(min(2 ** (failures - free - 1), lock_seconds))


class LoginGuard:
    """Counts failed logins per login and per address, and says when to refuse."""

    def __init__(self, redis: Redis, limits: LoginLimits) -> None:
        self.redis = redis
        self.limits = limits

    def _keys(self, login: str, ip: str) -> tuple[tuple[str, str, int], ...]:
        # A count and its wait share a hash tag: a right password deletes both in one DEL,
        # which a Redis Cluster allows only within one slot.
        return (
            (f"login:fail:{{login:{login.lower()}}}", f"login:wait:{{login:{login.lower()}}}",
             self.limits.max_failures),
            (f"login:fail:{{ip:{ip}}}", f"login:wait:{{ip:{ip}}}", self.limits.max_failures_per_ip),
        )  # fmt: skip

    async def retry_after(self, login: str, ip: str) -> int:
        """Whole seconds this attempt must still wait; 0 when it may go ahead."""
        waits = [await self.redis.pttl(wait) for _fail, wait, _limit in self._keys(login, ip)]
        longest = max(waits)
        return math.ceil(longest / 1000) if longest > 0 else 0

    async def do_record_failure(self, login: str, ip: str) -> None:
        """Count a wrong password; start a delay or a lock when the count calls for one."""
        for fail, wait, limit in self._keys(login, ip):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(fail)
                pipe.expire(fail, self.limits.lock_seconds)
                failures, _ = await pipe.execute()
            delay = delay_after(int(failures), limit, self.limits.lock_seconds)
            if delay > 0:
                await self.redis.set(wait, "1", px=int(delay * 1000))
            if int(failures) == limit:
                locked = fail.split(":", 2)[2][1:-1]
                log.warning(
                    "login locked for %d s: %s from %s after %d failures",
                    *(self.limits.lock_seconds, locked, ip, failures),
                )
        log.info("login failed: %r from %s", login, ip)

    async def do_record_success(self, login: str) -> None:
        """A right password clears the login's count (the address's count stays)."""
        fail, wait, _limit = self._keys(login, "")[0]
        await self.redis.delete(fail, wait)
