"""Reading a Redis stream in a test, typed: redis-py types replies as if undecoded."""

from __future__ import annotations

from typing import cast

import redis.asyncio

Entry = tuple[str, dict[str, str]]
"""A stream entry's id and fields, as a client with ``decode_responses=True`` returns them."""


async def stream_entries(client: redis.asyncio.Redis, stream: str) -> list[Entry]:
    """Every entry of ``stream``, oldest first; ``client`` must decode responses."""
    return cast(list[Entry], await client.xrange(stream))
