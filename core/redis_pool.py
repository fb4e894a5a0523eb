"""The single-server and Sentinel clients' connection pool, and a connection that sends inline.

Every command the hub sends checks a connection out of the pool and back in. redis-py's
``BlockingConnectionPool`` does that under an ``asyncio.Condition`` and a timeout, records
metrics and dispatches a release event; a connection with a socket timeout sends each command
through ``asyncio.wait_for``, which is a task of its own and two more turns of the event loop.
Measured with ``bench.redis_calls``, a lone ``XADD`` costs 44–50 % less CPU without them
(``docs/BENCHMARKS.md``), and a visitor message takes a score of round trips.

Here a check-out takes an idle connection at once when nobody waits for one, and a check-in
puts it back at once when nobody waits; otherwise both go the pool's own way, which queues the
waiters and wakes them. A command is written inline and only a write the socket holds back
waits for the drain, under the socket timeout, so a Redis that stops reading is still noticed.
The pool's check of a connection before use (``ensure_connection``) is kept. The release event
is skipped only where it does nothing: it re-authenticates the connections of a credential
provider, and a pool with one releases the library's way.

A command is packed into the protocol by hiredis, in C, as redis-py's synchronous client packs
it; its asyncio connection packs every argument in Python, which was two fifths of the CPU of
the router's publish of a batch.

A reply that is already whole in the parser's buffer is taken without arming the socket
timeout. redis-py reads a pipeline's replies one by one, each under a timer of its own (3.6 µs
on uvloop, set and cancelled), though all but the first usually came in the first read; a
visitor message read 10 such replies. A reply that is not whole yet is read the library's way,
under the timeout, so a server that stops half way through a pipeline's replies is noticed.
Sentinel's connections, whose read does more, read every reply the library's way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import cache
from typing import Any, ClassVar

import hiredis
import redis.asyncio as aioredis
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


class LeanPool(aioredis.BlockingConnectionPool):
    """A ``BlockingConnectionPool`` whose uncontended check-out and check-in are immediate."""

    def _uncontended(self) -> bool:
        # ``_in_maintenance``: a server's maintenance notice is rewriting the pool under its lock.
        return not (self._condition._waiters or self._in_maintenance)

    async def get_connection(self, *_args: Any, **_options: Any) -> AbstractConnection:
        # The arguments are deprecated and unused by redis-py itself; none of ours passes any.
        if not (self._available_connections and self._uncontended()):
            return await super().get_connection()  # type: ignore[no-untyped-call,no-any-return]
        connection: AbstractConnection = self._available_connections.pop()
        self._in_use_connections.add(connection)
        try:
            await self.ensure_connection(connection)
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def release(self, connection: AbstractConnection) -> None:
        if not self._uncontended() or self.connection_kwargs.get("credential_provider"):
            await super().release(connection)
            return
        self._in_use_connections.remove(connection)
        if connection.should_reconnect():  # type: ignore[no-untyped-call]
            await connection.disconnect()
        self._available_connections.append(connection)


class LeanSentinelPool(SentinelConnectionPool, LeanPool):
    """Sentinel's master pool that, like ``LeanPool``, waits for a connection when all are busy."""


class InlineSend(AbstractConnection):
    """Writes a command at once; only a write the socket holds back waits, under the timeout.
    Packs commands with hiredis, as redis-py's synchronous client does. Takes a reply already
    whole in the buffer without a timer."""

    takes_whole_replies: ClassVar[bool] = False
    """Whether a reply whole in the buffer is taken here: not on a connection class whose read
    does more than the library's base (Sentinel's turns a demoted master's refusal into a lost
    connection)."""

    async def read_response(
        self,
        disable_decoding: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 (the library's signature)
        *,
        disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        parser = self._parser
        reader = getattr(parser, "_reader", None)
        if not (
            self.takes_whole_replies
            and timeout is None
            and not push_request
            and isinstance(parser, _AsyncHiredisParser)
            and parser._connected
            and reader is not None
        ):
            return await super().read_response(
                disable_decoding, timeout, disconnect_on_error=disconnect_on_error,
                push_request=push_request,
            )  # fmt: skip
        try:
            reply = reader.gets(False) if disable_decoding else reader.gets()
            pushed = False
            if reply is not NOT_ENOUGH_DATA:
                # What the library's parser does with a reply, in its order.
                _raise_lost(reply)
                notice = parser._hiredis_PushNotificationType
                pushed = notice is not None and isinstance(reply, notice)
                if pushed:
                    await parser.handle_push_response(reply)  # type: ignore[no-untyped-call]
        except BaseException:
            # As the library does: a connection that gave a bad reply is not reused.
            if disconnect_on_error:
                await self.disconnect(nowait=True)
            raise
        if pushed:
            # A push notice came first; the reply asked for is the next one.
            return await self.read_response(
                disable_decoding, disconnect_on_error=disconnect_on_error
            )
        if reply is NOT_ENOUGH_DATA:
            # Not whole yet: read under the socket timeout.
            return await super().read_response(
                disable_decoding, disconnect_on_error=disconnect_on_error
            )
        return self._answer(reply)

    def _answer(self, reply: Any) -> Any:
        """A buffered reply as the library's read returns it, or its error (the connection
        stays: the server answered as it should)."""
        if self.health_check_interval:
            self.next_health_check = asyncio.get_running_loop().time() + self.health_check_interval
        if isinstance(reply, ResponseError):
            raise reply from None
        return reply

    def pack_command(self, *args: Any) -> list[bytes]:
        # What hiredis does not take (a memoryview, or a value the library refuses with its
        # own error) goes the library's way.
        if not _utf8(self.encoder.encoding):
            return super().pack_command(*args)
        first = args[0]
        # A command of several words ("CLIENT SETNAME") goes as several arguments.
        if isinstance(first, str) and " " in first:
            args = (*first.encode().split(), *args[1:])
        elif isinstance(first, bytes) and b" " in first:
            args = (*first.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            return super().pack_command(*args)

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        writer = self._writer
        if (
            writer is None
            or not self.socket_timeout
            or (check_health and self.health_check_interval)
        ):
            # Connecting, or a health check is due: the library's way.
            await super().send_packed_command(command, check_health)
            return
        if isinstance(command, str):
            command = command.encode()
        chunks = [command] if isinstance(command, bytes) else command
        try:
            writer.writelines(chunks)
            if writer.transport.get_write_buffer_size():
                await asyncio.wait_for(writer.drain(), self.socket_timeout)
            else:
                await writer.drain()  # all with the kernel: raises only for a lost connection
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await self.disconnect(nowait=True)
            raise RedisConnectionError(f"Error while writing to socket: {exc}") from exc
        except BaseException:
            # A command cut off half way would leave the server reading garbage.
            await self.disconnect(nowait=True)
            raise


@cache
def _utf8(encoding: str) -> bool:
    """Whether the client's encoding is UTF-8, which is what hiredis packs strings in."""
    return encoding.lower().replace("-", "") == "utf8"


def _raise_lost(reply: Any) -> None:
    """Raise an error the server sent that means "not now" (LOADING, say), as redis-py's
    parser does with a reply."""
    if isinstance(reply, RedisConnectionError):
        raise reply
    if isinstance(reply, list) and reply and isinstance(reply[0], RedisConnectionError):
        raise reply[0]


_INLINE: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def inline_send(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """``connection_class`` (TCP, TLS, Unix socket or Sentinel's) that sends inline; one class
    per original, so that pools made alike share it."""
    if issubclass(connection_class, InlineSend):
        return connection_class
    made = _INLINE.get(connection_class)
    if made is None:
        name = f"Inline{connection_class.__name__}"
        plain_read = connection_class.read_response is AbstractConnection.read_response
        made = _INLINE[connection_class] = type(
            name, (InlineSend, connection_class), {"takes_whole_replies": plain_read}
        )
    return made


def lean(pool: LeanPool) -> LeanPool:
    """``pool`` with connections that send inline; before its first connection is made."""
    pool.connection_class = inline_send(pool.connection_class)
    return pool
