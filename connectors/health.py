"""How each channel account is doing, kept in Redis where every process can write and read it.

One hash per channel, ``channel:health:<id>``: ``error`` and ``error_at`` (the last failure to
reach the platform: a poll, a webhook registration; both empty once it works again),
``last_in`` and ``last_out`` (when an update last arrived and a message last went out, Unix
seconds), ``webhook`` (the address the platform was last told, empty when none). The connectors
write it (the inbound time in the same Lua call that queues an update, so a webhook costs no
extra round trip); the console reads it for the channels page.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

TTL_S = 90 * 24 * 3600
"""A channel silent this long (or deleted) loses its record."""


def health_key(channel_id: int) -> str:
    """The Redis hash of a channel's health."""
    return f"channel:health:{channel_id}"


@dataclass(frozen=True)
class Health:
    """What the console shows of a channel's health."""

    error: str = ""
    error_at: float | None = None
    last_in: float | None = None
    last_out: float | None = None
    webhook: str = ""

    @classmethod
    def from_hash(cls, raw: dict[str, Any]) -> Health:
        """Read a stored hash (missing or empty fields are unset)."""

        def when(name: str) -> float | None:
            value = raw.get(name)
            return float(value) if value else None

        return cls(
            error=str(raw.get("error") or ""),
            error_at=when("error_at"),
            last_in=when("last_in"),
            last_out=when("last_out"),
            webhook=str(raw.get("webhook") or ""),
        )


async def do_record_error(redis: Redis, channel_id: int, message: str) -> None:
    """The platform could not be reached or refused us: shown until the next success."""
    key = health_key(channel_id)
    await redis.hset(key, mapping={"error": message[:500], "error_at": f"{time.time():.3f}"})
    await redis.expire(key, TTL_S)


async def do_record_ok(redis: Redis, channel_id: int, **fields: str) -> None:
    """The platform answered: clear the error (and set ``fields``, e.g. ``webhook``)."""
    key = health_key(channel_id)
    await redis.hset(key, mapping={"error": "", "error_at": ""})
    if fields:
        await redis.hset(key, mapping=dict(fields.items()))
    await redis.expire(key, TTL_S)


async def do_record_outbound(redis: Redis, channel_id: int) -> None:
    """A message went out to the platform."""
    key = health_key(channel_id)
    await redis.hset(key, "last_out", f"{time.time():.3f}")
    await redis.expire(key, TTL_S)


async def read_health(redis: Redis, channel_ids: Iterable[int]) -> dict[int, Health]:
    """The health of each channel, read in one round trip."""
    ids = list(channel_ids)
    async with redis.pipeline(transaction=False) as pipe:
        for channel_id in ids:
            pipe.hgetall(health_key(channel_id))
        rows = await pipe.execute()
    return {cid: Health.from_hash(row or {}) for cid, row in zip(ids, rows, strict=True)}
