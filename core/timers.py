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
import json
import logging
import math
import time
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
# strings and never parses them. Returns how many fired and the next pending due time (ms, or
# -1 when none is pending), so the clock can sleep until then.
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
local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, next[2] or -1}
"""

# KEYS: due zset, payload hash. ARGV: (what, key, due (ms), document) per change, in order.
# Returns per change 1, or for a disarm whether the timer was still pending. Both halves of a
# timer are always written and removed together, so either both exist or neither does.
# A run of disarms is one ZMSCORE, then one ZREM and one HDEL of the pending ones alone: a
# batch cancels most of its timers in vain (a dialog's reminder that was never armed), and
# that costs no command at all then. Runs are cut at 500 keys, below Lua's stack limit.
_CHANGE = """
local out = {}
local function disarm(keys)
  local scores = redis.call('ZMSCORE', KEYS[1], unpack(keys))
  local pending, seen = {}, {}
  for j, key in ipairs(keys) do
    if scores[j] and not seen[key] then
      seen[key] = true
      pending[#pending + 1] = key
      out[#out + 1] = 1
    else
      out[#out + 1] = 0
    end
  end
  if #pending > 0 then
    redis.call('ZREM', KEYS[1], unpack(pending))
    redis.call('HDEL', KEYS[2], unpack(pending))
  end
end
local run = {}
for i = 1, #ARGV, 4 do
  local what, key = ARGV[i], ARGV[i + 1]
  if what == 'disarm' then
    run[#run + 1] = key
    if #run == 500 then disarm(run); run = {} end
  else
    if #run > 0 then disarm(run); run = {} end
    if what == 'arm_if_absent' then
      redis.call('HSETNX', KEYS[2], key, ARGV[i + 3])
      redis.call('ZADD', KEYS[1], 'NX', ARGV[i + 2], key)
    else
      redis.call('HSET', KEYS[2], key, ARGV[i + 3])
      redis.call('ZADD', KEYS[1], ARGV[i + 2], key)
    end
    out[#out + 1] = 1
  end
end
if #run > 0 then disarm(run) end
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
            _wake_arms(changes)
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
        _wake_arms(changes)
        return [bool(pending) for pending in reply]

    async def due_at(self, key: str) -> datetime | None:
        """When timer ``key`` is due, or None when it is not pending."""
        score = await self.redis.zscore(streams.TIMERS_DUE, key)
        return None if score is None else datetime.fromtimestamp(score / 1000, UTC)

    async def fire_due(self, now: datetime, limit: int = 500) -> int:
        """Move every timer due at ``now`` onto the stream; returns how many fired."""
        fired, _next = await self._fire_until(now, limit)
        return fired

    async def _fire_until(self, now: datetime, limit: int) -> tuple[int, float | None]:
        """Fire up to ``limit`` timers due at ``now``: how many, and when (epoch ms) the next
        pending one is due (None when none is)."""
        fired, next_ms = await self._fire(
            keys=[streams.TIMERS_DUE, streams.TIMER_PAYLOADS, self.stream],
            args=[_ms(now), limit, self.maxlen],
        )
        return int(fired), None if float(next_ms) < 0 else float(next_ms)

    async def run(self, stopping: asyncio.Event, interval_s: float = 1.0) -> None:
        """Fire due timers until ``stopping`` is set. Safe to run in several processes at once.

        Between firings the clock sleeps until the next pending timer is due, ``interval_s`` at
        most: an arm in this process that falls due sooner wakes it at once (``_Nap``), and
        the cap bounds how late a timer armed by another process can fire.
        """
        # Redis away is logged once per outage and waited out with the readers' backoff;
        # anything else is a bug worth its traceback.
        outage = Outage(streams.TIMERS_DUE, kind="timer clock")
        nap = _Nap(asyncio.get_running_loop())
        _NAPS.add(nap)
        try:
            while not stopping.is_set():
                # Every arm from here on wakes the clock, until it knows what is pending.
                nap.wake_before(math.inf)
                try:
                    next_ms = await self._fire_all()
                except asyncio.CancelledError:
                    raise
                except REDIS_DOWN as exc:
                    await outage.wait(exc, stopping)
                    continue
                except Exception:
                    log.exception("firing timers failed; trying again")
                    next_ms = None
                outage.over()
                await nap.sleep(stopping, _nap_s(next_ms, interval_s))
        finally:
            _NAPS.discard(nap)

    async def _fire_all(self, limit: int = 500) -> float | None:
        """Fire every timer due now; when (epoch ms) the next pending one is due."""
        while True:
            fired, next_ms = await self._fire_until(datetime.now(UTC), limit)
            if fired < limit:
                return next_ms


class _Nap:
    """A timer clock's sleep, which an arm due before its end cuts short (``_wake_arms``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.woken = asyncio.Event()
        self.until_ms = math.inf

    def wake_before(self, until_ms: float) -> None:
        """From now on, an arm due before ``until_ms`` (epoch ms) wakes this nap."""
        self.woken.clear()
        self.until_ms = until_ms

    async def sleep(self, stopping: asyncio.Event, seconds: float) -> None:
        """Sleep ``seconds``, less if woken or ``stopping``; an arm that came meanwhile
        (``woken`` already set) makes it return at once."""
        if seconds <= 0 or self.woken.is_set():
            return
        self.until_ms = min(self.until_ms, time.time() * 1000 + seconds * 1000)
        waits = [asyncio.ensure_future(e.wait()) for e in (stopping, self.woken)]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()


_NAPS: set[_Nap] = set()
"""The running timer clocks of this process."""


def _wake_arms(changes: Sequence[Arm | Disarm]) -> None:
    """Wake each clock of this process that sleeps past one of ``changes``' arms."""
    soonest = min((_ms(c.due_at) for c in changes if isinstance(c, Arm)), default=None)
    if soonest is None:
        return
    for nap in _NAPS:
        if soonest < nap.until_ms:
            nap.until_ms = -math.inf  # woken once is enough
            # Thread-safe: a batch may be settled on another thread's loop.
            nap.loop.call_soon_threadsafe(nap.woken.set)


def _nap_s(next_ms: float | None, cap_s: float) -> float:
    """How long the clock may sleep: until the next due timer, ``cap_s`` at most."""
    if next_ms is None:
        return cap_s
    return max(0.0, min(cap_s, (next_ms - time.time() * 1000) / 1000))


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
