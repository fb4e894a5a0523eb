"""The frames a batch brings a socket at once are written held back (``live.cork``) and let go
together once its queue is empty: the tab gets every one, in order, and the connection is never
left held back."""

from __future__ import annotations

import asyncio
import socket
import time

from aiohttp import web

from core import streams
from core.bus import Bus
from operator_console.live import HUB, cork
from tests.support.console_world import World, logged_in
from tests.support.small_buffers import long_reminder

BURST = 300


def held_back(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK))


async def test_a_burst_reaches_the_tab_in_order_and_the_connection_is_let_go(
    hub: str, world: World, app: web.Application, bus: Bus
) -> None:
    olga = world.ids["olga"]
    tab = await logged_in(hub, "olga")
    try:
        await tab.open_socket()
        (conn,) = app[HUB].connections[olga]
        assert conn.transport is not None
        server_side = conn.transport.get_extra_info("socket")
        dialog = world.dialogs["olga"]
        await bus.publish_many(
            [(streams.EVENTS, long_reminder(n, olga, dialog)) for n in range(BURST)]
        )
        got: list[int] = []
        event_ids: list[int] = []
        async with asyncio.timeout(20):
            while len(got) < BURST:
                frame = await tab.receive()
                if frame["type"] == "reminder":
                    got.append(int(frame["waited_minutes"]))
                    event_ids.append(int(frame["event_id"]))
        assert got == list(range(BURST))
        assert event_ids == sorted(event_ids) and len(set(event_ids)) == BURST
        assert conn.queue.empty()
        assert not held_back(server_side)
    finally:
        await tab.close()


async def test_cork_holds_writes_back_until_it_lets_them_go() -> None:
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    _peer_reader, peer_writer = await accepted.get()
    try:
        transport = peer_writer.transport
        assert cork(transport, True) is True
        assert held_back(transport.get_extra_info("socket"))
        written = time.monotonic()
        peer_writer.write(b"frame")
        try:
            early = await asyncio.wait_for(reader.read(100), 0.05)
        except TimeoutError:
            early = b""
        # Linux holds a partial segment back for at most 200 ms; only a test process paused
        # that long may see it come.
        assert early == b"" or time.monotonic() - written >= 0.2
        assert cork(transport, False) is False
        assert not held_back(transport.get_extra_info("socket"))
        if not early:
            async with asyncio.timeout(5):
                assert await reader.read(100) == b"frame"
        # Nothing to hold back where there is no connection.
        assert cork(None, True) is False
    finally:
        writer.close()
        peer_writer.close()
        server.close()
        await server.wait_closed()
