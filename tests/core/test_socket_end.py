"""An ended socket's connection is cut off when its client reads nothing, and left to finish
when it reads (``core.socket_end``), on real loopback connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import pytest

from core.socket_end import abort_if_unread

PAYLOAD = b"x" * (4 * 1024 * 1024)
"""More than both ends' kernel buffers hold: some of it stays in the server's transport."""


class Server(asyncio.Protocol):
    """Writes ``PAYLOAD`` to each client, closes gently and hands the connection over."""

    def __init__(self) -> None:
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(PAYLOAD)
        transport.close()
        abort_if_unread(transport, "a test socket")

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set_result(exc)


class Serving:
    """A loopback server of ``Server`` connections; ``lost()`` waits for the first to end."""

    def __init__(self) -> None:
        self.protocols: list[Server] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.get_running_loop().create_server(self._made, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def _made(self) -> Server:
        self.protocols.append(Server())
        return self.protocols[-1]

    async def lost(self) -> Exception | None:
        while not self.protocols:
            await asyncio.sleep(0.01)
        lost: Exception | None = await self.protocols[0].lost
        return lost

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def connected(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[tuple[Serving, socket.socket]]:
    """A server, and a client connected to it whose kernel takes in little unread."""
    monkeypatch.setattr("core.socket_end.LINGER_S", 0.3)
    caplog.set_level(logging.INFO, logger="core.socket_end")
    serving = Serving()
    port = await serving.start()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    try:
        yield serving, sock
    finally:
        sock.close()
        await serving.stop()


def cut_off(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "never read" in r.getMessage()]


async def test_a_connection_whose_client_reads_nothing_is_cut_off(
    connected: tuple[Serving, socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    serving, sock = connected
    async with asyncio.timeout(10):
        await serving.lost()
    assert cut_off(caplog)
    # What the server still held was thrown away: the client can never read it all.
    got = 0
    with contextlib.suppress(ConnectionResetError, BlockingIOError):
        while chunk := sock.recv(65536):
            got += len(chunk)
    assert got < len(PAYLOAD)


async def test_a_connection_whose_client_reads_is_left_to_finish(
    connected: tuple[Serving, socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    serving, sock = connected
    loop = asyncio.get_running_loop()
    got = 0
    async with asyncio.timeout(10):
        while chunk := await loop.sock_recv(sock, 65536):
            got += len(chunk)
        await serving.lost()
    assert got == len(PAYLOAD)
    await asyncio.sleep(0.5)  # past LINGER_S: nothing is cut off after the end either
    assert not cut_off(caplog)
