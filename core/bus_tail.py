"""Reading a stream without a consumer group: the tails of fan-out readers (console, web chat,
account watch), each of which needs every entry, and the catch-up of a reconnecting client.

A tail keeps its own position. A lost connection never moves it: the tail waits with
``TAIL_BACKOFF`` and reads on from the last entry it yielded, so entries added during an outage
are delivered once Redis is back, and it never jumps to the newest entry. Malformed entries are
logged and skipped: a fan-out reader has nothing to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError
from redis.asyncio import Redis

from core.envelope import Envelope, decode
from core.outage import REDIS_DOWN, Outage

log = logging.getLogger(__name__)

T = TypeVar("T")

FIELD = "data"
"""The field of a stream entry that holds the payload (as ``core.bus`` writes it)."""


async def tail_reads(
    redis: Redis,
    stream: str,
    stopping: asyncio.Event,
    count: int,
    block_ms: int,
    after: str | None = None,
) -> AsyncIterator[list[tuple[str, Envelope]]]:
    """Every entry of ``stream`` after ``after`` (without it: after the newest one now), until
    ``stopping`` is set, in reads of up to ``count`` that block up to ``block_ms``: one list
    per read, for a reader that settles what a read brought together before it reads again
    (``each_entry`` hands them out one by one). A read of nothing but malformed entries gives
    no list."""
    outage = Outage(stream)
    last = after
    while last is None:
        # "$" means "after the newest entry at the time of this call", so repeating it after
        # an empty read would skip whatever arrived between two reads. Pin it to a real id.
        try:
            last = await newest_id(redis, stream)
        except REDIS_DOWN as exc:
            await outage.wait(exc, stopping)
            if stopping.is_set():
                return
    while not stopping.is_set():
        try:
            read = partial(redis.xread, {stream: last}, count=count, block=block_ms)
            reply: Any = await until_stopped(read, stopping)
        except REDIS_DOWN as exc:
            await outage.wait(exc, stopping)
            continue
        outage.over()
        for _name, entries in reply or []:
            decoded: list[tuple[str, Envelope]] = []
            for raw_id, fields in entries:
                last = as_text(raw_id)
                try:
                    decoded.append((last, decode(payload_of(fields))))
                except (ValidationError, KeyError) as exc:
                    log.error("stream %s entry %s is malformed: %s", stream, last, exc)
            if decoded:
                yield decoded


async def each_entry(reads: AsyncIterator[list[T]]) -> AsyncIterator[T]:
    """The entries of ``tail_reads``, one at a time."""
    async for read in reads:
        for entry in read:
            yield entry


async def newest_id(redis: Redis, stream: str) -> str:
    """The id of the stream's newest entry, ``0-0`` while it is empty: where a tail that must
    skip what is there now reads on from."""
    newest: Any = await redis.xrevrange(stream, count=1)
    return as_text(newest[0][0]) if newest else "0-0"


RECANCEL_S = 0.05
"""How soon a read cancelled on stop is cancelled again while it still runs. redis-py sends
each command under ``asyncio.wait_for``, which on Python 3.11 drops a cancellation that comes
just as the command is sent (it returns the send's result instead), so the read goes on to wait
out its whole block, and the stop with it."""


class Stopping(asyncio.Event):
    """The stop flag of a bus: an ``asyncio.Event`` that also cancels the reads blocked under
    ``until_stopped`` on it when it is set.

    Each blocked read is registered here for the time it waits. Watching the flag that way,
    instead of with a second task per read and ``asyncio.wait`` over both, puts a read's reply
    one turn of the loop nearer its reader, and each turn can cost a switch of the interpreter
    lock while the database writer's thread runs a batch (``core.db.writer``).
    """

    def __init__(self) -> None:
        super().__init__()
        self._blocked: set[asyncio.Future[Any]] = set()

    def set(self) -> None:
        """Set the flag and cancel every read blocked on it."""
        super().set()
        self._cancel_blocked()

    def _cancel_blocked(self) -> None:
        for reading in self._blocked:
            reading.cancel()
        if self._blocked:  # until each has ended: a cancel may be dropped (``RECANCEL_S``)
            with contextlib.suppress(RuntimeError):  # no loop runs: nothing can wait on it
                asyncio.get_running_loop().call_later(RECANCEL_S, self._cancel_blocked)

    async def wait_out(self, read: Callable[[], Awaitable[T]]) -> T | None:
        """What ``read`` returns, or None when the flag is set first (``until_stopped``)."""
        reading = asyncio.ensure_future(_made(read))
        self._blocked.add(reading)
        try:
            # Cancelling the reader cancels ``reading`` too; the flag cancels ``reading`` alone.
            return await reading
        except asyncio.CancelledError:
            if reading.cancelled() and self.is_set() and not _cancelling():
                return None
            raise
        finally:
            self._blocked.discard(reading)


def _cancelling() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


async def _made(read: Callable[[], Awaitable[T]]) -> T:
    return await read()


async def until_stopped(read: Callable[[], Awaitable[T]], stopping: asyncio.Event) -> T | None:
    """What ``read()`` returns, or None when ``stopping`` is set first: the read is cancelled
    then. So a blocking read on a quiet stream may wait long (``quiet_read_ms``) and its reader
    still stops at once, instead of renewing short reads to notice the stop.

    A cancelled read closes its connection (redis-py's rule), so no reply is left half read;
    entries a group read was handed just then stay pending, as after a crash.

    The read is made by its own task, when that task first runs. redis-py's stream reads make
    their command's coroutine at once and await it later, inside one of their own; a read
    cancelled before its task ran would leave that command never awaited, a warning at every
    stop that came just then. Made in the task, a read cancelled that early is never made.
    """
    if isinstance(stopping, Stopping) and not stopping.is_set():
        return await stopping.wait_out(read)
    reading = asyncio.ensure_future(_made(read))
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((reading, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        while not reading.done():  # a cancel may be dropped (``RECANCEL_S``): again until done
            reading.cancel()
            await asyncio.wait((reading,), timeout=RECANCEL_S)
    # Entries that came as the stop did are still handed over.
    return None if reading.cancelled() else reading.result()


async def entries_between(
    redis: Redis, stream: str, after: str, upto: str, page: int
) -> AsyncIterator[tuple[str, Envelope]]:
    """The entries of ``stream`` after ``after`` up to and including ``upto``, read ``page`` at
    a time: what a reconnecting client missed. Malformed entries are skipped."""
    while True:
        entries: Any = await redis.xrange(stream, f"({after}", upto, count=page)
        for raw_id, fields in entries:
            after = as_text(raw_id)
            try:
                yield after, decode(payload_of(fields))
            except (ValidationError, KeyError) as exc:
                log.error("stream %s entry %s is malformed: %s", stream, after, exc)
        if len(entries) < page:
            return


def as_text(value: str | bytes) -> str:
    """An entry id, field or name as redis-py returns it (bytes unless decoding), as text."""
    return value.decode() if isinstance(value, bytes) else value


def payload_of(fields: Any) -> str:
    """The payload of an entry's fields (``FIELD``); KeyError when it has none."""
    value = fields[FIELD] if FIELD in fields else fields[FIELD.encode()]
    return as_text(value)
