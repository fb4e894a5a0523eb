"""Timers in a Redis sorted set: due time -> key, with the payload in a hash beside it.

A timer fires by moving, in one Lua script, from the set onto a stream as a ``timer.fired``
entry. The move is atomic, so two timer loops (two processes, or a restart racing the old one)
can never fire the same timer twice, and a fired timer is as durable as any bus entry: the
consumer of that stream acks it after handling. Nothing scans the dialogs on a schedule.
Arming and disarming is a script too (``Timers.apply``), so all of a batch's changes are one
atomic step that can ride in the same round trip as the batch's other writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

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

# KEYS: due zset, payload hash. ARGV: (what, key, due (ms), document) per change, in order.
# Returns per change 1, or for a disarm whether the timer was still pending. Both halves of a
# timer are always written and removed together, so either both exist or neither does.
_CHANGE = """
local out = {}
for i = 1, #ARGV, 4 do
  local what, key = ARGV[i], ARGV[i + 1]
  if what == 'disarm' then
    out[#out + 1] = redis.call('ZREM', KEYS[1], key)
    redis.call('HDEL', KEYS[2], key)
  elseif what == 'arm_if_absent' then
    redis.call('HSETNX', KEYS[2], key, ARGV[i + 3])
    redis.call('ZADD', KEYS[1], 'NX', ARGV[i + 2], key)
    out[#out + 1] = 1
  else
    redis.call('HSET', KEYS[2], key, ARGV[i + 3])
    redis.call('ZADD', KEYS[1], ARGV[i + 2], key)
    out[#out + 1] = 1
  end
end
return out
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
        self._change = redis.register_script(_CHANGE)
        # redis-py's cluster pipelines refuse scripts: there the changes go as their own call.
        self._scripts_in_pipelines = not isinstance(redis, RedisCluster)

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
        """Arm and disarm timers in the order given, atomically and in one round trip.

        Returns, per change, whether a disarmed timer was still pending (True for every arm).
        """
        if not changes:
            return []
        if not self._scripts_in_pipelines:
            reply = await self._change(
                keys=[streams.TIMERS_DUE, streams.TIMER_PAYLOADS], args=_change_args(changes)
            )
            return [bool(pending) for pending in reply]
        pipe = self.redis.pipeline(transaction=False)
        self.queue(pipe, changes)
        (reply,) = await pipe.execute(raise_on_error=False)
        return await self.settle(reply, changes)

    def queue(self, pipe: Pipeline, changes: Sequence[Arm | Disarm]) -> bool:
        """Add ``changes`` to a pipeline the caller sends (with other writes, in one round
        trip); hand the pipeline's reply for them to ``settle``, which returns ``apply``'s.

        False when nothing was queued (a Redis Cluster's pipeline takes no script): the caller
        then sends the changes with ``apply`` after its pipeline, keeping their order.
        """
        if not self._scripts_in_pipelines:
            return False
        # EVALSHA itself, not the registered Script: in a pipeline that would cost a SCRIPT
        # EXISTS round trip on every send. A Redis without the script answers NOSCRIPT, and
        # ``settle`` runs the changes again through the Script, which loads it.
        pipe.evalsha(self._change.sha, 2, streams.TIMERS_DUE, streams.TIMER_PAYLOADS,
                     *_change_args(changes))  # fmt: skip
        return True

    async def settle(self, reply: Any, changes: Sequence[Arm | Disarm]) -> list[bool]:
        """The outcome of ``queue``'s changes from the pipeline's reply for them."""
        if isinstance(reply, NoScriptError):
            # Nothing of the changes was applied: the script did not run at all.
            reply = await self._change(
                keys=[streams.TIMERS_DUE, streams.TIMER_PAYLOADS], args=_change_args(changes)
            )
        elif isinstance(reply, Exception):
            raise reply
        return [bool(pending) for pending in reply]

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


def _change_args(changes: Sequence[Arm | Disarm]) -> list[str | int]:
    """``_CHANGE``'s ARGV: four per change."""
    args: list[str | int] = []
    for change in changes:
        if isinstance(change, Disarm):
            args += ["disarm", change.key, 0, ""]
            continue
        doc = json.dumps(
            {
                "type": "timer.fired",
                "v": 1,
                "key": change.key,
                "due_at": change.due_at.astimezone(UTC).isoformat(),
                "payload": dict(change.payload),
            }
        )
        what = "arm_if_absent" if change.if_absent else "arm"
        args += [what, change.key, _ms(change.due_at), doc]
    return args


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
