"""While Redis cannot be reached, HTTP requests get a 503 that says so, never a 500.

The database stays the truth, but a reply, a login or a webhook cannot be accepted without the
bus: the caller is told to come back (``Retry-After``) instead of seeing an internal error, and
the log gets one line per outage rather than one traceback per request.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from core.outage import REDIS_DOWN

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
LOG_EVERY_S = 10.0

_last_logged = 0.0


@web.middleware
async def redis_unavailable(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map an unreachable Redis (connection refused, reset, timed out) to 503 + Retry-After."""
    global _last_logged
    try:
        return await handler(request)
    except REDIS_DOWN as exc:
        if request.writer.output_size:
            raise  # a response (a websocket) has started: too late for a status line
        now = time.monotonic()
        if now - _last_logged >= LOG_EVERY_S:
            _last_logged = now
            log.warning("Redis is unreachable; answering 503 (%s %s: %s)",
                        request.method, request.path, exc)  # fmt: skip
        return web.json_response(
            {"error": "unavailable", "reason": "the message bus (Redis) is unreachable"},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
