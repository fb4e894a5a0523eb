"""The headers of the console's own pages (``/`` and ``/whatif``): what the browser may load
into them and who may frame them.

Client text is always put on the page as text; the policy is the second line behind that: a
page that only runs its own scripts from its own origin runs no script a message could smuggle
in. Framing is refused, so no other site can lay the console under its own buttons. The
widget's script and the public chat page are left out: they are made to live on other sites.
"""

from __future__ import annotations

import re

from aiohttp import web

_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:\d{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?")
"""A Host header fit to name in the policy; any other is left out of it."""

_FIXED = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # The tab's icon is a data: URL.
        "img-src 'self' data:",
        "media-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def page_headers(request: web.Request) -> dict[str, str]:
    """The security headers of a console page served for ``request``."""
    # 'self' covers the page's own websocket only in newer browsers: named as well, in both
    # schemes, since behind a proxy the hub may not know which one the browser used.
    host = request.host if _HOST.fullmatch(request.host) else ""
    connect = f"connect-src 'self' ws://{host} wss://{host}" if host else "connect-src 'self'"
    return {
        "Content-Security-Policy": f"{_FIXED}; {connect}",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
