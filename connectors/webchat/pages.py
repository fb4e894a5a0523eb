"""The web chat's pages: the embeddable script, the public chat page and a demo site."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import select

from core.db import SessionMaker
from core.db.schema import Channel
from widget.assets import STATIC_DIR, render_page

KIND = "webchat"

ChannelByKey = Callable[[str], Awaitable[Channel | None]]
"""Finds an enabled web-chat channel by its public key."""


def routes(
    sessions: Callable[[], SessionMaker], channel_by_key: ChannelByKey
) -> list[web.AbstractRouteDef]:
    """The script and the pages; ``sessions`` is asked for at each request (it exists only
    once the app has started)."""

    async def widget_script(request: web.Request) -> web.StreamResponse:
        """The embeddable script."""
        return web.FileResponse(
            STATIC_DIR / "widget.js",
            headers={
                "Content-Type": "application/javascript; charset=utf-8",
                "Cache-Control": "public, max-age=300",
            },
        )

    async def chat_page(request: web.Request) -> web.Response:
        """The public chat page of one channel."""
        channel = await channel_by_key(request.match_info["key"])
        if channel is None:
            raise web.HTTPNotFound(text="unknown chat")
        html = render_page("chat.html", channel_key=channel.key, title=channel.name)
        return web.Response(text=html, content_type="text/html")

    async def demo_page(request: web.Request) -> web.Response:
        """A demo website with the widget of the first web-chat channel embedded."""
        async with sessions()() as session:
            channel = await session.scalar(
                select(Channel)
                .where(Channel.kind == KIND, Channel.enabled.is_(True))
                .order_by(Channel.id)
                .limit(1)
            )
        if channel is None:
            raise web.HTTPNotFound(text="no web chat channel is configured")
        html = render_page("demo.html", channel_key=channel.key, title=channel.name)
        return web.Response(text=html, content_type="text/html")

    return [
        web.get("/widget/widget.js", widget_script),
        web.get("/chat/{key}", chat_page),
        web.get("/demo", demo_page),
    ]
