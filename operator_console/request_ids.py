"""A request id for every HTTP request: the caller's ``X-Request-Id`` if it sent a sane one,
else a new one; it is on every log record of the request and echoed in the response."""

from __future__ import annotations

import re
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler

from core.logs import COMPONENT, REQUEST_ID

HEADER = "X-Request-Id"
_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Set the request id (and the ``http`` component) for the handler's records."""
    offered = request.headers.get(HEADER, "")
    request_id = offered if _SANE.match(offered) else secrets.token_hex(8)
    # Left set after the handler: the access log line of this request comes after it, in the
    # same task, and the next request on the connection sets its own.
    REQUEST_ID.set(request_id)
    COMPONENT.set("http")
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[HEADER] = request_id
        raise
    if not response.prepared:
        response.headers[HEADER] = request_id
    return response
