"""Cross-site request refusal for the console API.

A browser sends the session cookie with any request to our site, including one a page on
another port of the same host makes (the same *site* for ``SameSite``). So a state-changing
``/api`` request must prove it came from our own pages: it carries JSON (a cross-origin form can
only send ``text/plain``, form-encoded or multipart bodies, and a cross-origin ``fetch`` with
JSON needs a preflight we never grant) and an ``Origin`` equal to ours, or
``Sec-Fetch-Site: same-origin``. Uploads are multipart by nature and rely on the origin check.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from operator_console.integrations.tokens import API_TOKEN
from operator_console.keys import SETTINGS

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_TYPE = "application/json"
RAW_BODY_PATHS = (
    re.compile(r"^/api/dialogs/[^/]+/files$"),
    re.compile(r"^/api/lines/[^/]+/answers\.csv$"),
)
"""Endpoints whose body is a file (multipart or CSV), not JSON: the origin check alone holds."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_same_origin(request: web.Request) -> str | None:
    """Why ``request`` may not change state, or ``None`` when it may."""
    if request.headers.get("Sec-Fetch-Site", "") == "same-origin":
        return None
    origin = request.headers.get("Origin", "")
    if not origin:
        return "cross-site request refused: Origin header missing"
    ours = {f"{request.scheme}://{request.host}".lower()}
    public_url = request.app[SETTINGS].public_url
    if public_url:
        # Behind a TLS proxy the request reaches us as http, but the browser says https.
        ours.add(_origin_of(public_url))
    if origin.lower() not in ours:
        return f"cross-site request refused: Origin {origin} is not this site"
    return None


def check_json_body(request: web.Request) -> str | None:
    """Why the body of ``request`` is not acceptable, or ``None`` when it is JSON or empty."""
    if any(pattern.match(request.path) for pattern in RAW_BODY_PATHS):
        return None
    if not request.body_exists:
        # Nothing to read (a bare "close" or "take"); the origin check still applies.
        return None
    if request.content_type != JSON_TYPE:
        return f"cross-site request refused: body must be {JSON_TYPE}"
    return None


@web.middleware
async def refuse_cross_site(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 for a state-changing /api request that is not JSON from one of our own pages."""
    # A token request carries no ambient credential a foreign page could borrow: no check.
    if (
        request.method in UNSAFE_METHODS
        and request.path.startswith("/api/")
        and API_TOKEN not in request
    ):
        reason = check_json_body(request) or check_same_origin(request)
        if reason is not None:
            return web.json_response({"error": reason}, status=403)
    return await handler(request)
