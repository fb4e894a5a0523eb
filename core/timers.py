"""Timers in a Redis sorted set: due time -> key, with the payload in a hash beside it.

A timer fires by moving, in one Lua script, from the set onto a stream as a ``timer.fired``
entry. The move is atomic, so two timer loops (two processes, or a restart racing the old one)
can never fire the same timer twice, and a fired timer is as durable as any bus entry: the
consumer of that stream acks it after handling. Nothing scans the dialogs on a schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from core import streams
from core.outage import REDIS_DOWN, Outage

log = logging.getLogger(__name__)

# KEYS: due zset, payload hash, target stream. ARGV: now (ms), max count, maxlen.
# Payloads are stored already encoded as the timer.fired document, so the script only moves
# strings and never parses them.
_FIRE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, key in ipairs(due) do
  local doc = redis.call('HGET', KEYS[2], key)
  redis.call('ZREM', KEYS[1], key)
  redis.call('HDEL', KEYS[2], key)
  if doc then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'data', doc)
  end
end
return #due
"""

Payload = Mapping[str, str | int | None]


@dataclass(frozen=True, slots=True)
class Arm:
    """Set timer ``key`` to fire at ``due_at`` (moving a pending one, unless ``if_absent``)."""

    key: str
    due_at: datetime
    payload: Payload
    if_absent: bool = False


@dataclass(frozen=True, slots=True)
class Disarm:
    """Cancel timer ``key`` if it is pending."""

    key: str


class Timers:
    """Schedule, cancel and fire timers. Fired timers land on ``stream``."""

    def __init__(self, redis: Redis, stream: str = streams.TIMERS, maxlen: int = 1_000_000) -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen
        self._fire = redis.register_script(_FIRE)

    async def schedule(
        self, key: str, due_at: datetime, payload: Payload, *, if_absent: bool = False
    ) -> None:
        """Set timer ``key`` to fire at ``due_at``; scheduling an existing key moves it, unless
        ``if_absent``, which leaves a pending timer as it is."""
        await self.apply([Arm(key, due_at, payload, if_absent)])

    async def cancel(self, key: str) -> bool:
        """Cancel a timer; True when it was still pending."""
        removed: list[bool] = await self.apply([Disarm(key)])
        return removed[0]

    async def apply(self, changes: Sequence[Arm | Disarm]) -> list[bool]:
        """Arm and disarm timers in the order given, all in one transaction (one round trip).

        Returns, per change, whether a disarmed timer was still pending (True for every arm).
        Nothing of a failed call is applied, so it is as safe to repeat as each change alone.
        """
        if not changes:
            return []
        pipe = self.redis.pipeline(transaction=True)
        for change in changes:
            if isinstance(change, Arm):
                _queue_arm(pipe, change)
            else:
                pipe.zrem(streams.TIMERS_DUE, change.key)
                pipe.hdel(streams.TIMER_PAYLOADS, change.key)
        replies = await pipe.execute()
        # Two replies per change: for a disarm the first is ZREM's count of removed keys.
        return [
            isinstance(change, Arm) or bool(replies[2 * i])
            for i, change in enumerate(changes)
        ]

    async def due_at(self, key: str) -> datetime | None:
        """When timer ``key`` is due, or None when it is not pending."""
        score = await self.redis.zscore(streams.TIMERS_DUE, key)
        return None if score is None else datetime.fromtimestamp(score / 1000, UTC)

    async def fire_due(self, now: datetime, limit: int = 500) -> int:
        """Move every timer due at ``now`` onto the stream; returns how many fired."""
        fired = await self._fire(
            keys=[streams.TIMERS_DUE, streams.TIMER_PAYLOADS, self.stream],
            args=[_ms(now), limit, self.maxlen],
        )
        return int(fired)

    async def run(self, stopping: asyncio.Event, interval_s: float = 0.2) -> None:
        """Fire due timers until ``stopping`` is set. Safe to run in several processes at once."""
        # Redis away is logged once per outage and waited out with the readers' backoff;
        # anything else is a bug worth its traceback.
        outage = Outage(streams.TIMERS_DUE, kind="timer clock")
        while not stopping.is_set():
            try:
                while await self.fire_due(datetime.now(UTC)) > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except REDIS_DOWN as exc:
                await outage.wait(exc, stopping)
                continue
            except Exception:
                log.exception("firing timers failed; trying again")
            outage.over()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)


def _queue_arm(pipe: Pipeline, arm: Arm) -> None:
    doc = json.dumps(
        {
            "type": "timer.fired",
            "v": 1,
            "key": arm.key,
            "due_at": arm.due_at.astimezone(UTC).isoformat(),
            "payload": dict(arm.payload),
        }
    )
    if arm.if_absent:
        # Both halves of a timer are always written and removed together, so either both
        # exist or neither does.
        pipe.hsetnx(streams.TIMER_PAYLOADS, arm.key, doc)
        pipe.zadd(streams.TIMERS_DUE, {arm.key: _ms(arm.due_at)}, nx=True)
    else:
        pipe.hset(streams.TIMER_PAYLOADS, arm.key, doc)
        pipe.zadd(streams.TIMERS_DUE, {arm.key: _ms(arm.due_at)})


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
