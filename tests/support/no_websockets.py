"""An HTTP proxy in front of the hub that refuses websockets, as some corporate proxies and
antivirus web shields do (every upgrade gets 403, every plain request goes through), or only
the first few, as a hub that was restarting did."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}
)


@dataclass
class Proxy:
    url: str
    refusing: int | None
    """Upgrades still to refuse; None refuses every one."""
    seen: Counter[str] = field(default_factory=Counter)
    """Requests by path; upgrades under ``"refused websocket"`` and ``"websocket"``."""
    sockets: set[aiohttp.ClientWebSocketResponse] = field(default_factory=set)
    """The hub's ends of the sockets passed through, open now."""


@contextlib.asynccontextmanager
async def refusing_websockets(hub: str, first: int | None = None) -> AsyncIterator[Proxy]:
    """A proxy to ``hub`` that refuses every websocket, or the ``first`` ones; its URL and
    what it saw, while open."""
    http = aiohttp.ClientSession(auto_decompress=False)
    proxy = Proxy("", first)

    async def forward(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if proxy.refusing is None or proxy.refusing > 0:
                proxy.refusing = None if proxy.refusing is None else proxy.refusing - 1
                proxy.seen["refused websocket"] += 1
                return web.Response(status=403, text="websockets are not allowed here")
            proxy.seen["websocket"] += 1
            return await _pass_socket(request, http, hub, proxy.sockets)
        proxy.seen[request.path] += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with http.request(
            request.method,
            hub + request.path_qs,
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=answer.status, body=body, headers=kept)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", forward)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    proxy.url = str(server.make_url("")).rstrip("/")
    try:
        yield proxy
    finally:
        # The hub's ends first: else the server's close waits for the sockets passed through
        # and for the polls held open.
        for socket in list(proxy.sockets):
            await socket.close()
        await http.close()
        await server.close()


async def _pass_socket(
    request: web.Request,
    http: aiohttp.ClientSession,
    hub: str,
    open_now: set[aiohttp.ClientWebSocketResponse],
) -> web.WebSocketResponse:
    """Carry a websocket's text frames both ways between the page and the hub."""
    inner = await http.ws_connect(hub.replace("http", "ws", 1) + request.path_qs)
    open_now.add(inner)
    outer = web.WebSocketResponse()
    await outer.prepare(request)

    async def pump(
        source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
        sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    ) -> None:
        async for message in source:
            if message.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(message.data)
        await sink.close()

    try:
        await asyncio.gather(pump(outer, inner), pump(inner, outer), return_exceptions=True)
    finally:
        open_now.discard(inner)
    return outer
