"""The bus's delayed retries: entries that asked to be tried again later, parked in order.

A handler that raises ``Retry(after=…)`` gets its entry acked from the stream and parked in a
list per ordering key; a sorted set holds each parked key with the time its head comes due.
While a key is parked, later entries with the same key are parked behind it as they arrive, so
one client's messages are never handled out of order. When the head comes due the whole list
goes back onto the stream in order, as new entries carrying how often they were already tried.

Every move is one Lua script, so parking is atomic with the ack, and two processes never
requeue the same entry twice. A requeue waits until the consumer group has been handed every
entry of the stream: an entry of a parked key still unread at that moment would otherwise
overtake the ones parked before it. That guarantee is per consumer at a time (as the router
owns a shard through a lease); consumers sharing one stream interleave anyway.

Only this module and ``core.bus`` use the keys: ``bus:delayed:{<stream>}:<group>`` (the sorted
set) and ``bus:parked:{<stream>}:<group>:<key>`` (one list per parked key), named in
``core.streams`` in the stream's cluster slot, so each script touches one slot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster

from core import streams
from core.delivery import Delivery

log = logging.getLogger(__name__)

T = TypeVar("T")

OrderingKey = Callable[[T], str | None]
"""The key whose entries a consumer keeps in order across retries (a client, a dialog), or None
for a payload that may be handled whenever it is due."""

# KEYS: delayed zset. ARGV: tokens. The positions of the tokens that are parked; one EXISTS
# when nothing is parked at all, which is nearly always.
_PARKED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local parked = {}
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then parked[#parked + 1] = i - 1 end
end
return parked
"""

# KEYS: delayed zset, stream, failures hash. ARGV: group, list prefix, then (token, id, doc)
# triples. Parks every entry whose token is already parked, acking it; returns their positions.
_FOLLOW = """
local parked = {}
for i = 3, #ARGV, 3 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('RPUSH', ARGV[2] .. ARGV[i], ARGV[i + 2])
    redis.call('XACK', KEYS[2], ARGV[1], ARGV[i + 1])
    redis.call('HDEL', KEYS[3], ARGV[i + 1])
    parked[#parked + 1] = (i - 3) / 3
  end
end
return parked
"""

# KEYS: delayed zset, stream, failures hash. ARGV: group, list prefix, token, id, doc, due (ms).
# Parks one entry that asked for a retry; behind its key's parked entries when there are any.
_PARK = """
redis.call('RPUSH', ARGV[2] .. ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[1], 'NX', ARGV[6], ARGV[3])
redis.call('XACK', KEYS[2], ARGV[1], ARGV[4])
redis.call('HDEL', KEYS[3], ARGV[4])
return 1
"""

# KEYS: delayed zset, stream. ARGV: now (ms), max keys, maxlen, group, list prefix.
# Returns {moved, due of the next parked key or -1}; moved is -1 while the group has not been
# handed every entry of the stream yet.
_REQUEUE = """
local function at_or_after(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as >= bs)
end
local function next_due()
  local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #head == 0 then return -1 end
  return tonumber(head[2])
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due == 0 then return {0, next_due()} end
local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #newest > 0 then
  local delivered = nil
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', KEYS[2])) do
    local name, last = nil, nil
    for i = 1, #info, 2 do
      if info[i] == 'name' then name = info[i + 1] end
      if info[i] == 'last-delivered-id' then last = info[i + 1] end
    end
    if name == ARGV[4] then delivered = last end
  end
  if delivered == nil or not at_or_after(delivered, newest[1][1]) then
    return {-1, next_due()}
  end
end
local moved = 0
for _, token in ipairs(due) do
  local list = ARGV[5] .. token
  for _, doc in ipairs(redis.call('LRANGE', list, 0, -1)) do
    local sep = string.find(doc, ':', 1, true)
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*',
      'data', string.sub(doc, sep + 1), 'deliveries', string.sub(doc, 1, sep - 1),
      'group', ARGV[4])
    moved = moved + 1
  end
  redis.call('DEL', list)
  redis.call('ZREM', KEYS[1], token)
end
return {moved, next_due()}
"""


@dataclass(frozen=True)
class Parked:
    """One entry to park: its ordering token, stream id, payload text and failed deliveries."""

    token: str
    entry_id: str
    data: str
    deliveries: int

    @property
    def doc(self) -> str:
        """How the entry is stored in its key's list: ``<deliveries>:<payload>``."""
        return f"{self.deliveries}:{self.data}"


def for_other_group(fields: Any, group: str) -> bool:
    """True for a retry another consumer group put back onto a stream they share."""
    value = fields.get("group", fields.get(b"group"))
    return value is not None and _text(value) != group


def deliveries_of(fields: Any) -> int:
    """How many times a stream entry failed before it was put back (0 for a new entry)."""
    value = fields.get("deliveries", fields.get(b"deliveries"))
    return int(_text(value)) if value is not None else 0


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class DelayedRetries(Generic[T]):
    """The delayed set of one stream and consumer group.

    ``ordering`` gives an entry's key; ``dump`` writes a payload back as the stream's text.
    """

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        failures_key: str,
        ordering: OrderingKey[T] | None,
        dump: Callable[[T], str],
    ) -> None:
        self.redis = redis
        self.ordering = ordering
        self.dump = dump
        self._last_requeue = 0.0
        self.stream = stream
        self.group = group
        self.failures_key = failures_key
        self.key = streams.bus_delayed(stream, group)
        self.list_prefix = streams.bus_parked_prefix(stream, group)
        self.next_due: float | None = None
        """Wall-clock time the next parked key comes due, as last seen; None when none is."""
        self._parked = redis.register_script(_PARKED)
        self._follow = redis.register_script(_FOLLOW)
        self._park = redis.register_script(_PARK)
        self._requeue = redis.register_script(_REQUEUE)

    def entry(self, delivery: Delivery[T], deliveries: int) -> Parked:
        """What parking a delivery stores."""
        return Parked(self._token(delivery), delivery.id, self.dump(delivery.payload), deliveries)

    def _token(self, delivery: Delivery[T]) -> str:
        key = self.ordering(delivery.payload) if self.ordering is not None else None
        # An entry without a key is a key of its own: it holds back nothing else.
        return f"e:{delivery.id}" if key is None else f"k:{key}"

    @property
    def looks_with_reads(self) -> bool:
        """True when ``queue_look`` can ride in the pipeline of the consumer's group read.

        A consumer without ordering needs no look; redis-py's cluster pipelines take no
        blocking read."""
        return self.ordering is not None and not isinstance(self.redis, RedisCluster)

    def queue_look(self, pipe: Pipeline) -> None:
        """Add, right after a group read in ``pipe``, the look whether anything is parked.

        Redis answers a blocked client's next command only once its read returned, so the
        answer is from after the read: "nothing" then holds for each entry read, as the
        first look of ``behind_parked`` would, and spares that look's round trip."""
        pipe.exists(self.key)

    async def behind_parked(
        self, batch: list[Delivery[T]], maybe_parked: bool = True
    ) -> list[Delivery[T]]:
        """The batch without the entries just parked behind an earlier entry of their key.

        ``maybe_parked`` False: a look taken after the batch was read (``queue_look``) found
        nothing parked, so nothing is asked again."""
        if self.ordering is None or not batch or not maybe_parked:
            return batch
        # Asking first with the keys alone spares encoding every entry again for the common
        # answer, "none". ``follow`` checks again as it parks, so each entry is decided by one
        # atomic look, as with a single script: a "no" by the first, a "yes" by the second.
        tokens = [self._token(d) for d in batch]
        candidates: Any = await self._parked(keys=[self.key], args=tokens)
        if not candidates:
            return batch
        maybe = [batch[int(i)] for i in candidates]
        parked_here = await self.follow([self.entry(d, d.deliveries) for d in maybe])
        parked = {int(candidates[i]) for i in parked_here}
        for i in sorted(parked):
            log.info("entry %s of %s waits behind its key's retry", batch[i].id, self.stream)
        return [d for i, d in enumerate(batch) if i not in parked]

    async def requeue_if_due(self, maxlen: int, every_s: float) -> None:
        """Requeue when a key this consumer knows of came due, or every ``every_s`` (for keys
        parked by other consumers of the group)."""
        now = time.monotonic()
        if self.is_due() or now - self._last_requeue >= every_s:
            self._last_requeue = now
            await self.requeue(maxlen)

    async def follow(self, entries: Sequence[Parked]) -> set[int]:
        """Park (and ack) the entries whose key is parked already; returns their positions."""
        if not entries:
            return set()
        args: list[str] = [self.group, self.list_prefix]
        for entry in entries:
            args += [entry.token, entry.entry_id, entry.doc]
        keys = [self.key, self.stream, self.failures_key]
        parked: Any = await self._follow(keys=keys, args=args)
        return {int(i) for i in parked}

    async def park(self, entry: Parked, wait_s: float) -> None:
        """Ack the entry and park it for ``wait_s`` (behind its key's parked entries, if any)."""
        due = time.time() + wait_s
        args: list[str | int] = [self.group, self.list_prefix, entry.token, entry.entry_id]
        keys = [self.key, self.stream, self.failures_key]
        await self._park(keys=keys, args=[*args, entry.doc, int(due * 1000)])
        self.next_due = due if self.next_due is None else min(self.next_due, due)

    async def requeue(self, maxlen: int, limit: int = 100) -> int:
        """Put the entries of every key that came due back onto the stream, in order.

        Returns how many went back; -1 when the group had not yet been handed every entry of
        the stream, so the caller reads on and tries again.
        """
        now_ms = int(time.time() * 1000)
        args: list[str | int] = [now_ms, limit, maxlen, self.group, self.list_prefix]
        reply: Any = await self._requeue(keys=[self.key, self.stream], args=args)
        moved, next_due = int(reply[0]), int(reply[1])
        self.next_due = None if next_due < 0 else next_due / 1000
        return moved

    def is_due(self) -> bool:
        """True when a key this consumer knows of has come due."""
        return self.next_due is not None and time.time() >= self.next_due

    def wait_ms(self, block_ms: int) -> int:
        """How long a read may block without holding back the next due key (at least 1 ms:
        0 would block forever)."""
        if self.next_due is None:
            return block_ms
        left = int((self.next_due - time.time()) * 1000)
        return max(1, min(block_ms, left))
