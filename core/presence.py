"""Who is at a console: live console sockets per operator, counted in Redis.

An operator is online while at least one console socket of theirs is connected, in any console
process. Each socket is a member of the operator's sorted set, scored by when it expires; the
socket's heartbeat pushes that forward. A console process that dies stops refreshing, so its
sockets fall out of the count by themselves: nothing in one process's memory decides presence.

The grace after the last socket closes is a timer (``core.timers``): the console arms it on close
and on every heartbeat, and when it fires the router counts the live sockets and, if none is
left, takes the operator offline. Arming on the heartbeat too is what covers a killed process,
which never gets to say that its sockets closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Protocol

from redis.asyncio import Redis

from core import streams
from core.timers import Timers

Status = Literal["online", "away", "offline"]
STATUSES: tuple[Status, ...] = ("online", "away", "offline")


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def status_after_grace(status: str, live_sockets: int) -> Status | None:
    """The presence an operator falls to when their grace timer fires: offline once no console
    socket of theirs is left, whatever they had chosen; None (no change) while one is live or
    they are already offline."""
    if live_sockets > 0 or status == "offline":
        return None
    return "offline"


def status_after_idle(status: str) -> Status | None:
    """The presence an operator falls to when their auto-away timer fires: away from online;
    None (no change) when they are already away or offline."""
    return "away" if status == "online" else None


class LiveSockets(Protocol):
    """What the router asks about console sockets: how many of an operator's are live."""

    async def live(self, operator_id: int, now: datetime) -> int:
        """How many console sockets of the operator are live at ``now``."""


class ConsoleSockets:
    """The live console sockets of every operator, shared by all console processes."""

    def __init__(self, redis: Redis, ttl: timedelta) -> None:
        self.redis = redis
        self.ttl = ttl

    async def touch(self, operator_id: int, socket_id: str, now: datetime) -> int:
        """Count a socket as live until ``now + ttl``; returns the operator's live sockets."""
        key = streams.console_sockets(operator_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", _ms(now))
        pipe.zadd(key, {socket_id: _ms(now + self.ttl)})
        pipe.zcard(key)
        # The set outlives its last member by a ttl at most, so an operator who never comes back
        # leaves nothing behind.
        pipe.pexpire(key, int(self.ttl.total_seconds() * 1000) * 2)
        _removed, _added, count, _ttl = await pipe.execute()
        return int(count)

    async def release(self, operator_id: int, socket_id: str, now: datetime) -> int:
        """Forget a closed socket; returns how many of the operator's sockets are still live."""
        key = streams.console_sockets(operator_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(key, socket_id)
        pipe.zremrangebyscore(key, "-inf", _ms(now))
        pipe.zcard(key)
        _gone, _expired, count = await pipe.execute()
        return int(count)

    async def live(self, operator_id: int, now: datetime) -> int:
        """How many console sockets of the operator are live at ``now``."""
        return int(
            await self.redis.zcount(streams.console_sockets(operator_id), f"({_ms(now)}", "+inf")
        )

    async def choose(self, operator_id: int, status: Status | None) -> None:
        """Remember the presence the operator chose (None: they signed out)."""
        if status is None:
            await self.redis.delete(streams.presence_choice(operator_id))
        else:
            await self.redis.set(streams.presence_choice(operator_id), status)

    async def choice(self, operator_id: int) -> Status:
        """The presence the operator chose; "online" when they never chose (a sign-in is)."""
        raw = await self.redis.get(streams.presence_choice(operator_id))
        value = raw.decode() if isinstance(raw, bytes) else raw
        for status in STATUSES:
            if value == status:
                return status
        return "online"


async def arm_grace(timers: Timers, operator_id: int, due_at: datetime) -> None:
    """Set (or move) the operator's presence timer; when it fires the router counts sockets."""
    await timers.schedule(streams.presence_timer(operator_id), due_at, {"operator_id": operator_id})


async def arm_auto_away(timers: Timers, operator_id: int, due_at: datetime) -> None:
    """Set (or move) the operator's auto-away timer: each report of activity pushes it on."""
    await timers.schedule(streams.away_timer(operator_id), due_at, {"operator_id": operator_id})
