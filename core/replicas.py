"""Publishing that a replica has confirmed, for what the hub acknowledges to a client.

Redis replicates asynchronously: an entry the master acknowledged and then lost in a crash,
before its replica had it, is gone once Sentinel promotes the replica. Where the hub tells a
client "accepted" (the widget), it first asks for ``WAIT 1 <ms>`` on the connection that wrote
the entry, so the acknowledgement means two servers have it. ``WAIT`` counts only the writes of
its own connection, hence the XADD and the WAIT go in one pipeline (one connection).

When no replica is connected the wait is skipped (it could only time out); whether one is
connected is read from ``INFO replication`` at most every ``REFRESH_S``. A wait that times out
raises ``NotReplicated``: the client is told to send again (the entry is on the master, and the
inbound key deduplicates the second copy), so "accepted" never means the master alone has it.
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

REFRESH_S = 5.0
"""How stale the knowledge of a connected replica may be."""


class NotReplicated(RedisError):
    """No replica confirmed an entry in time; it may be on the master only."""


class ReplicaWait:
    """XADD, then ``WAIT 1 wait_ms`` when a replica is connected."""

    def __init__(self, redis: Redis, wait_ms: int) -> None:
        self.redis = redis
        self.wait_ms = wait_ms
        self._replicas = 0
        self._checked_at = float("-inf")
        self.timeouts = 0
        """Waits that ended before a replica confirmed (the entry is on the master only)."""

    async def replicas(self) -> int:
        """Replicas connected to the master, as of at most ``REFRESH_S`` ago."""
        now = time.monotonic()
        if now - self._checked_at >= REFRESH_S:
            try:
                info: Any = await self.redis.info("replication")
            except ResponseError:
                info = {}  # INFO renamed or refused (some managed services): wait for nobody
            self._replicas = int(info.get("connected_slaves", 0))
            self._checked_at = now
        return self._replicas

    async def xadd(self, stream: str, fields: dict[Any, Any], maxlen: int) -> str:
        """Append the entry; once a replica exists, return only after it has it (or time out)."""
        if not self.wait_ms or not await self.replicas():
            entry_id: Any = await self.redis.xadd(stream, fields, maxlen=maxlen, approximate=True)
            return str(entry_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(stream, fields, maxlen=maxlen, approximate=True)
        pipe.execute_command("WAIT", 1, self.wait_ms)
        entry_id, confirmed = await pipe.execute()
        if not confirmed:
            self.timeouts += 1
            self._checked_at = float("-inf")  # the replica may be gone: look again next time
            raise NotReplicated(f"no replica confirmed {entry_id} of {stream} in {self.wait_ms} ms")
        return str(entry_id)
