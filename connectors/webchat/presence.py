"""Which visitors have a widget open somewhere in the hub, shared by every hub process in Redis.

One hash per visitor names the processes holding a socket of theirs, each with the moment its
claim runs out. A process writes its field when a socket of the visitor says hello, renews the
fields of all its visitors every third of ``LIVE_SECONDS``, and removes its field when the
visitor's last socket on it closes. A process that died leaves its field to run out, so no
visitor looks present for longer than ``LIVE_SECONDS`` after their process is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

LIVE_SECONDS = 30
"""How long a process's claim on a visitor lasts without renewal."""

Visitor = tuple[int, str]
"""(channel id, visitor id)."""


def live_key(visitor: Visitor) -> str:
    """The Redis hash of the processes holding a socket of ``visitor``."""
    return f"webchat:live:{visitor[0]}:{visitor[1]}"


class VisitorPresence:
    """This process's share of the hub-wide record of open widgets."""

    def __init__(
        self,
        redis: Callable[[], Redis],
        clock: Callable[[], float] = time.time,
        live_seconds: float = LIVE_SECONDS,
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.live_seconds = live_seconds
        self.process = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        """This process's field in every visitor's hash."""

    async def do_join(self, visitor: Visitor) -> None:
        """A socket of ``visitor`` opened here: the visitor is present. With Redis away the
        chat goes on; the next renewal records the visitor."""
        try:
            await self._renew([visitor])
        except (RedisError, OSError) as exc:
            log.warning("web chat presence not recorded: %s", exc)

    async def do_leave(self, visitor: Visitor) -> None:
        """The visitor's last socket here closed; their record outlives a Redis error by at
        most ``live_seconds`` (and this process still decides their answers meanwhile)."""
        with contextlib.suppress(RedisError, OSError):
            await self.redis().hdel(live_key(visitor), self.process)

    async def present_elsewhere(self, visitor: Visitor) -> bool:
        """True while another process holds an open socket of ``visitor``."""
        fields = await self.redis().hgetall(live_key(visitor))
        now = self.clock()
        return any(
            _text(name) != self.process and float(until) > now for name, until in fields.items()
        )

    async def run(self, visitors: Callable[[], Iterable[Visitor]]) -> None:
        """Renew this process's claim on every visitor it holds, until cancelled."""
        while True:
            await asyncio.sleep(self.live_seconds / 3)
            held = list(visitors())
            if not held:
                continue
            try:
                await self._renew(held)
            except (RedisError, OSError) as exc:
                log.warning("web chat presence not renewed: %s", exc)

    async def _renew(self, visitors: list[Visitor]) -> None:
        until = self.clock() + self.live_seconds
        async with self.redis().pipeline(transaction=False) as pipe:
            for visitor in visitors:
                pipe.hset(live_key(visitor), self.process, str(until))
                pipe.expire(live_key(visitor), int(self.live_seconds) + 1)
            await pipe.execute()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
