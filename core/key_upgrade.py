"""The one-time rename of the Redis keys an older Openlines wrote, to today's names.

Keys derived from a stream now carry the stream's name as a hash tag (``core.streams``), so that
the hub runs on a Redis Cluster. A deployment upgrading from the older names runs on one Redis,
where RENAME works across any two names; each process calls ``do_rename_old_keys`` at start,
before its components read anything, and the first one to finish marks the Redis as done.

Renamed: dead-letter streams, failure counts, parked retries, the timers' sorted set and hash,
and the platform updates' dedupe keys. Not renamed: leases and login counters, which expire
within seconds or minutes and are simply taken or counted afresh.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from core import streams

log = logging.getLogger(__name__)

DONE_KEY = "openlines:key-names"
"""Set once every old key was renamed; its value is the naming's version."""
VERSION = "2"

OLD_PATTERNS = ("dlq.*", "bus:failures:*", "bus:delayed:*", "bus:parked:*", "seen:*")
_TIMER_KEYS = {"timers:due": streams.TIMERS_DUE, "timers:payload": streams.TIMER_PAYLOADS}


def renamed(old: str) -> str | None:
    """Today's name of a key an older Openlines wrote; None when ``old`` is no such key."""
    if old in _TIMER_KEYS:
        return _TIMER_KEYS[old]
    if "{" in old:
        return None  # already tagged
    if old.startswith("dlq.") and len(old) > len("dlq."):
        return streams.dead_letter(old.removeprefix("dlq."))
    kind, _, rest = old.partition(":")
    parts = rest.split(":")
    if kind == "bus" and len(parts) >= 3 and parts[0] in ("failures", "delayed", "parked"):
        stream, group = parts[1], parts[2]
        if parts[0] == "failures" and len(parts) == 3:
            return streams.bus_failures(stream, group)
        if parts[0] == "delayed" and len(parts) == 3:
            return streams.bus_delayed(stream, group)
        if parts[0] == "parked" and len(parts) >= 4:
            return streams.bus_parked_prefix(stream, group) + ":".join(parts[3:])
        return None
    if kind == "seen" and len(parts) >= 3 and parts[1].isdigit():
        return streams.update_seen(parts[0], int(parts[1]), ":".join(parts[2:]))
    return None


async def do_rename_old_keys(redis: Redis) -> int:
    """Rename every old key of this Redis once; returns how many this call renamed."""
    if await redis.get(DONE_KEY) is not None:
        return 0
    count = 0
    olds = [key for key in _TIMER_KEYS if await redis.exists(key)]
    for pattern in OLD_PATTERNS:
        olds += [_text(key) async for key in redis.scan_iter(match=pattern, count=1000)]
    for old in olds:
        new = renamed(old)
        if new is not None and await _rename(redis, old, new):
            count += 1
    await redis.set(DONE_KEY, VERSION)
    if count:
        log.info("renamed %d Redis keys to the cluster-ready names", count)
    return count


async def _rename(redis: Redis, old: str, new: str) -> bool:
    try:
        if await redis.renamenx(old, new):
            return True
    except ResponseError:
        return False  # gone meanwhile: another process starting at once renamed it
    log.warning("Redis key %s was not renamed to %s: that key exists already", old, new)
    return False


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
