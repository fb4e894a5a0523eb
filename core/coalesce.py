"""Single Redis commands issued in one turn of the event loop share one round trip.

A hub under load answers many requests at once: in one turn of the loop a dozen visitors'
messages are counted and queued, and a dozen operators' replies appended to the command
stream, each a command of its own. A round trip costs the hub 60–70 µs of CPU alone and a
command added to a pipeline 4–10 (``bench.redis_calls``). So a command given to ``Coalescer``
is held until the turn ends, and every command held by then goes to Redis in one pipeline;
each caller gets its own reply or its own error, as if it had sent it alone. A lone command
goes alone. What it costs is the rest of the turn, a few microseconds when idle.

Only commands that answer at once belong here: a blocking read would hold every other caller's
reply. A command whose caller is cancelled may still be sent, as one already on the wire would
be; the hub's writes through it are idempotent or deduplicated downstream (entries carry keys).
On a Redis Cluster every command goes alone, as the cluster client routes each by its key.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis

from core.redis_connect import is_cluster

_Held = tuple[tuple[Any, ...], "asyncio.Future[Any]"]


class Coalescer:
    """Sends the commands given to ``execute`` in one turn of the loop in one round trip."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._held: list[_Held] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._alone = is_cluster(redis)
        self.trips = 0
        """Round trips made so far."""
        self.commands = 0
        """Commands sent so far; with ``trips``, how many shared a trip."""

    async def execute(self, *args: Any) -> Any:
        """Send one command (``execute_command``'s arguments) with the others of this turn;
        its reply, or the error it alone got."""
        if self._alone:
            return await self.redis.execute_command(*args)  # type: ignore[no-untyped-call]
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        if not self._held:
            # Ready callbacks run in the order they were scheduled: this one runs after every
            # task already woken in this turn has had its say.
            loop.call_soon(self._flush)
        self._held.append((args, reply))
        return await reply

    def _flush(self) -> None:
        held, self._held = self._held, []
        if not held:
            return
        task = asyncio.get_running_loop().create_task(self._send(held))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, held: list[_Held]) -> None:
        self.trips += 1
        self.commands += len(held)
        try:
            if len(held) == 1:
                alone = self.redis.execute_command(*held[0][0])  # type: ignore[no-untyped-call]
                replies: list[Any] = [await alone]
            else:
                pipe = self.redis.pipeline(transaction=False)
                for args, _reply in held:
                    pipe.execute_command(*args)
                # Each command's error stays its own: raise_on_error would hand the first
                # one to every caller.
                replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            for _args, reply in held:
                reply.cancel()
            raise
        except Exception as exc:
            for _args, reply in held:
                if not reply.done():
                    reply.set_exception(exc)
            return
        for (_args, reply), answer in zip(held, replies, strict=True):
            if reply.done():
                continue  # its caller was cancelled
            if isinstance(answer, Exception):
                reply.set_exception(answer)
            else:
                reply.set_result(answer)
