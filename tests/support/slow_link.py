"""A slow TCP link: a proxy on loopback that passes bytes to the server at ``up`` and back to
the client at ``down`` bytes a second (at once when None), as a slow mobile or long-distance
link does. For tests of what takes longer than loopback makes it look."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

_CHUNK = 4096


async def _pass(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, bytes_per_s: float | None
) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
            if bytes_per_s is not None:
                await asyncio.sleep(len(data) / bytes_per_s)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def slow_link(
    host: str, port: int, *, down: float | None = None, up: float | None = None
) -> AsyncIterator[int]:
    """Listen on a free loopback port (yielded) and link every connection to host:port."""
    links: set[asyncio.Task[None]] = set()

    async def link(client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection(host, port)
        await asyncio.gather(_pass(client_in, server_out, up), _pass(server_in, client_out, down))

    async def start(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        links.add(task)
        try:
            await link(reader, writer)
        finally:
            links.discard(task)

    server = await asyncio.start_server(start, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(links):
            task.cancel()
        await asyncio.gather(*links, return_exceptions=True)
        await server.wait_closed()
