"""The hub's Redis pool (``core.redis_pool``) on a real server: callers past the pool wait and
are served, a server that stops reading or answering is noticed within the socket timeout, and
a pipeline's buffered replies are read without a timer each."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.asyncio.sentinel import SentinelManagedConnection
from redis.exceptions import DataError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.redis_connect import DRIVER, connect
from core.redis_pool import InlineSend, LeanPool, inline_send, lean


def _pool(url: str, max_connections: int, socket_timeout: float = 5.0) -> LeanPool:
    return lean(
        LeanPool.from_url(
            url, decode_responses=True, max_connections=max_connections, timeout=5,
            socket_timeout=socket_timeout,
        )
    )  # fmt: skip


def _made(pool: LeanPool) -> int:
    return len(pool._available_connections) + len(pool._in_use_connections)


async def test_the_hub_client_uses_the_lean_pool_and_inline_sends(redis_url: str) -> None:
    client = connect(redis_url, max_connections=4)
    try:
        assert await client.ping()
        assert isinstance(client.connection_pool, LeanPool)
        assert issubclass(client.connection_pool.connection_class, InlineSend)
    finally:
        await client.aclose()


async def test_new_connections_share_one_driver_info(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool growing by a burst of commands does not read redis-py's package metadata for
    each new connection: they all carry the one read at import (sent by ``CLIENT SETINFO`` on
    servers from 7.2)."""
    client = connect(redis_url, max_connections=8)
    reads: list[str] = []
    real = importlib.metadata.version

    def version(name: str) -> str:
        reads.append(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    try:
        await asyncio.gather(*(client.client_info() for _ in range(8)))
        pool = cast(LeanPool, client.connection_pool)
        assert _made(pool) > 1
        assert reads == []
        assert all(c.driver_info is DRIVER for c in pool._available_connections)
        assert DRIVER.lib_version == real("redis")
    finally:
        await client.aclose()


async def test_callers_past_the_pool_wait_and_are_all_served(redis_url: str) -> None:
    """Two connections, one held by a blocking read: forty callers share the other in turn,
    each woken when a connection comes back, none timed out."""
    pool = _pool(redis_url, max_connections=2)
    client = aioredis.Redis.from_pool(pool)

    async def read_quiet_stream() -> object:
        return await client.xread({"quiet": "$"}, block=1500)

    try:
        blocked = asyncio.create_task(read_quiet_stream())
        await asyncio.sleep(0.05)
        counts = await asyncio.gather(*(client.incr("n") for _ in range(40)))
        assert sorted(counts) == list(range(1, 41))
        assert not blocked.done()  # the whole crowd went through the one free connection
        assert not await blocked  # nothing came: it timed out as asked
        assert _made(pool) == 2
    finally:
        await client.aclose()


class _FreezingProxy:
    """A TCP relay in front of Redis that can stop reading what the client sends, as a stuck
    server does: its socket buffers fill and the client's writes stop going out."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        for task in (
            asyncio.create_task(self._pipe(reader, upstream_writer, freezes=True)),
            asyncio.create_task(self._pipe(upstream_reader, writer, freezes=False)),
        ):
            self.tasks.add(task)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, freezes: bool
    ) -> None:
        try:
            with contextlib.suppress(ConnectionError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
                    if freezes and self.frozen.is_set():
                        await asyncio.Event().wait()  # never reads again
        finally:
            writer.close()  # cancelled by ``close`` too: no socket outlives the relay

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[_FreezingProxy]:
    parts = urlsplit(redis_url)
    relay = _FreezingProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    yield relay
    await relay.close()


async def test_a_server_that_stops_reading_fails_the_write_within_the_socket_timeout(
    proxy: _FreezingProxy,
) -> None:
    client = aioredis.Redis.from_pool(_pool(await proxy.start(), 2, socket_timeout=0.5))
    try:
        assert await client.ping()
        proxy.frozen.set()
        await client.set("small", "1")  # read by the relay before it froze
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RedisTimeoutError, match="writing"):
            await client.set("big", "x" * 64_000_000)
        assert loop.time() - started < 3
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "args",
    [
        ("SET", "key", "value"),
        ("XADD", "events", "MAXLEN", "~", 1000, "*", "data", '{"text": "привет"}'),
        ("ZADD", "{timers}:due", 1796219917.496675, b"timer:1"),
        ("CLIENT SETNAME", "hub"),
        (b"CONFIG GET", b"maxmemory"),
        ("GET", "x" * 10_000),
    ],
)
def test_a_command_is_packed_as_the_library_packs_it(args: tuple[Any, ...]) -> None:
    inline = inline_send(Connection)()
    assert inline.pack_command(*args) != []
    assert b"".join(inline.pack_command(*args)) == b"".join(Connection().pack_command(*args))


def test_what_hiredis_does_not_pack_goes_the_librarys_way() -> None:
    inline = inline_send(Connection)()
    view = memoryview(b"payload")
    assert b"".join(inline.pack_command("SET", "k", view)) == b"".join(
        Connection().pack_command("SET", "k", view)
    )
    refusals: tuple[Any, ...] = (True, None)
    for refused in refusals:
        with pytest.raises(DataError):
            inline.pack_command("SET", "k", refused)


class _CuttingProxy(_FreezingProxy):
    """A relay that, once ``keep`` is set, passes that many more bytes of the server's replies
    and then no more: a server that stops half way through a pipeline's replies."""

    def __init__(self, target: tuple[str, int]) -> None:
        super().__init__(target)
        self.keep: int | None = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        for task in (
            asyncio.create_task(self._pipe(reader, upstream_writer, freezes=False)),
            asyncio.create_task(self._cut(upstream_reader, writer)),
        ):
            self.tasks.add(task)

    async def _cut(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.keep is not None:
                    data, self.keep = data[: self.keep], max(0, self.keep - len(data))
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


def _count_timers(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every read timer redis-py arms, by its delay."""
    import redis.asyncio.connection as connection_module

    armed: list[float] = []
    real = vars(connection_module)["async_timeout"]

    def counted(delay: float | None) -> Any:
        armed.append(delay or 0.0)
        return real(delay)

    monkeypatch.setattr(connection_module, "async_timeout", counted)
    return armed


async def test_a_pipelines_replies_after_the_first_are_read_without_a_timer(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = aioredis.Redis.from_pool(_pool(redis_url, 2))
    try:
        await client.delete("pipe:n", "pipe:s")
        armed = _count_timers(monkeypatch)
        pipe = client.pipeline(transaction=False)
        for _ in range(20):
            pipe.incr("pipe:n")
        pipe.xadd("pipe:s", {"data": "x" * 20_000})
        pipe.xlen("pipe:s")
        replies = await pipe.execute()
        assert replies[:20] == list(range(1, 21))
        assert replies[21] == 1
        # One timer for the first read; a reply longer than one read of the socket may need
        # one more. Not one per reply, as the library arms them.
        assert 1 <= len(armed) <= 3
    finally:
        await client.aclose()


async def test_an_error_among_buffered_replies_is_reported_as_the_library_reports_it(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_pool(_pool(redis_url, 2))
    try:
        await client.set("pipe:text", "not a stream")
        pipe = client.pipeline(transaction=False)
        pipe.incr("pipe:e")
        pipe.xadd("pipe:text", {"data": "x"})  # WRONGTYPE
        pipe.get("pipe:text")
        replies = await pipe.execute(raise_on_error=False)
        assert isinstance(replies[1], ResponseError) and "WRONGTYPE" in str(replies[1])
        assert replies[2] == "not a stream"
        pipe = client.pipeline(transaction=False)
        pipe.get("pipe:text")
        pipe.xadd("pipe:text", {"data": "x"})
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await pipe.execute()
        assert await client.get("pipe:text") == "not a stream"  # the connection still serves
    finally:
        await client.aclose()


async def test_a_server_that_stops_half_way_through_the_replies_times_out(
    redis_url: str,
) -> None:
    parts = urlsplit(redis_url)
    relay = _CuttingProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    client = aioredis.Redis.from_pool(_pool(await relay.start(), 1, socket_timeout=0.5))
    try:
        assert await client.ping()
        relay.keep = len(b":1\r\n:2\r\n:3\r\n:4")  # three whole replies, a part of the fourth
        pipe = client.pipeline(transaction=False)
        for _ in range(5):
            pipe.incr("pipe:cut")
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RedisTimeoutError, match="reading"):
            await pipe.execute()
        assert loop.time() - started < 3
        assert relay.keep == 0  # the three whole replies came, and were taken from the buffer
    finally:
        await client.aclose()
        await relay.close()


def test_sentinels_connections_read_every_reply_the_librarys_way() -> None:
    plain, sentinels = inline_send(Connection), inline_send(SentinelManagedConnection)
    assert issubclass(plain, InlineSend) and issubclass(sentinels, InlineSend)
    assert plain.takes_whole_replies
    assert not sentinels.takes_whole_replies
