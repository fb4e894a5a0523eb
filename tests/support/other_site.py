"""A page on another origin than the hub's (``localhost`` where the hub is ``127.0.0.1``): a
customer's site embedding the widget, or a hostile one framing the console."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestServer


@contextlib.asynccontextmanager
async def other_site(html: str, headers: dict[str, str] | None = None) -> AsyncIterator[str]:
    """Serve ``html`` (with ``headers``) at ``/`` of another origin; its URL while open."""

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html", headers=headers)

    app = web.Application()
    app.router.add_get("/", page)
    server = TestServer(app, host="localhost")
    await server.start_server()
    try:
        yield str(server.make_url("/"))
    finally:
        await server.close()
