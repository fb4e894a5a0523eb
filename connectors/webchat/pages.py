"""The web chat's pages: the embeddable script, the public chat page and a demo site."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import select

from core.db import SessionMaker
from core.db.schema import Channel
from widget.assets import render_page, script_url, widget_script

KIND = "webchat"

ChannelByKey = Callable[[str], Awaitable[Channel | None]]
"""Finds an enabled web-chat channel by its public key."""


def routes(
    sessions: Callable[[], SessionMaker], channel_by_key: ChannelByKey
) -> list[web.AbstractRouteDef]:
    """The script and the pages; ``sessions`` is asked for at each request (it exists only
    once the app has started)."""

    async def chat_page(request: web.Request) -> web.Response:
        """The public chat page of one channel."""
        channel = await channel_by_key(request.match_info["key"])
        if channel is None:
            raise web.HTTPNotFound(text="unknown chat")
        html = render_page(
            "chat.html", channel_key=channel.key, title=channel.name, script_url=script_url()
        )
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
        html = render_page(
            "demo.html", channel_key=channel.key, title=channel.name, script_url=script_url()
        )
        return web.Response(text=html, content_type="text/html")

    return [
        web.get("/widget/widget.js", serve_script),
        web.get("/chat/{key}", chat_page),
        web.get("/demo", demo_page),
    ]


UNVERSIONED_CACHE = "public, max-age=86400, stale-while-revalidate=604800"
"""The snippet sites embed has no version in its URL: a day fresh, then revalidated by ETag
in the background, so a new script reaches every site within a day or so."""
VERSIONED_CACHE = "public, max-age=31536000, immutable"


async def serve_script(request: web.Request) -> web.Response:
    """``widget.js``: 304 when the browser's copy is current, gzip when it is accepted."""
    script = widget_script()
    versioned = request.query.get("v") == script.version
    headers = {
        "Content-Type": "application/javascript; charset=utf-8",
        "Cache-Control": VERSIONED_CACHE if versioned else UNVERSIONED_CACHE,
        "ETag": script.etag,
        "Vary": "Accept-Encoding",
    }
    if _current(request.headers.get("If-None-Match", ""), script.etag):
        return web.Response(status=304, headers=headers)
    if _accepts_gzip(request.headers.get("Accept-Encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=script.gzipped, headers=headers)
    return web.Response(body=script.body, headers=headers)


def _current(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag`` (weakly compared, as RFC 9110 says)."""
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False
