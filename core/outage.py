"""Redis outages as the hub's readers see them: which errors mean "Redis is down", how often to
try again, and one log line per outage instead of one traceback per attempt."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.backoff import Backoff

log = logging.getLogger(__name__)

TAIL_BACKOFF = Backoff(first_s=0.2, factor=2.0, max_s=5.0)
"""How often a reader that lost Redis tries again: soon at first, then every 5 s."""

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
"""The errors that mean Redis cannot be reached right now (as opposed to a bad command)."""

REDIS_CLIENT_DOWN = (RedisConnectionError, RedisTimeoutError)
"""The same, raised by the Redis client only: what a handler's own failure to reach Redis looks
like, told apart from a timeout of something else it waited for (a platform's API)."""


class Outage:
    """One reader's view of a Redis outage: one log line when it starts, one when it ends.

    ``kind`` names the reader in those lines (a tail, a consumer, a listener), ``stream`` what
    it reads.
    """

    def __init__(self, stream: str, kind: str = "tail") -> None:
        self.stream = stream
        self.kind = kind
        self.attempts = 0

    async def wait(self, exc: Exception, stopping: asyncio.Event) -> None:
        """Note a failed read and sleep the backoff's wait (or until the bus stops)."""
        self.attempts += 1
        if self.attempts == 1:
            log.warning("%s of %s lost Redis (%s); retrying", self.kind, self.stream, exc)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TAIL_BACKOFF.delay(self.attempts)):
                await stopping.wait()

    def over(self) -> None:
        """Note a successful read."""
        if self.attempts:
            log.warning(
                "%s of %s is back after %d failed attempts", self.kind, self.stream, self.attempts
            )
        self.attempts = 0
