"""The widget's HTTP endpoints answer pages of any origin (CORS).

The widget runs on the customer's site, whose origin is never the hub's, and talks to the hub
over its socket and over plain HTTP (uploads, and long polls where a network refuses the
socket). A browser lets a page read an answer from another origin, and send a request with the
widget's own headers at all, only when the server allows it. Any origin may: these requests
carry the visitor's token in a header, never a cookie, so a foreign page gains nothing a
visitor's own widget does not already have. Refusals (4xx) carry the allowance too, so the
widget can show their reason.
"""

from __future__ import annotations

import aiohttp_cors
from aiohttp import web

CROSS_ORIGIN_PATHS = frozenset(
    {"/widget/upload", "/widget/poll", "/widget/poll/{link}", "/widget/poll/{link}/close"}
)
"""The widget's HTTP endpoints; its socket needs no allowance, its pages no other origin."""

ALLOWED_HEADERS = ("Content-Type", "X-Openlines-Token", "X-File-Name")
"""The request headers the widget sends."""

PREFLIGHT_CACHE_S = 3600
"""How long a browser may keep an allowance before asking again."""


def allow_any_site(app: web.Application) -> None:
    """Let pages of any origin call the widget's HTTP endpoints among ``app``'s routes."""
    options = {
        "allow_headers": ALLOWED_HEADERS,
        "expose_headers": ("Retry-After",),
        "max_age": PREFLIGHT_CACHE_S,
    }
    cors = aiohttp_cors.setup(app)
    for route in list(app.router.routes()):
        if route.resource is not None and route.resource.canonical in CROSS_ORIGIN_PATHS:
            cors.add(route, {"*": options})
