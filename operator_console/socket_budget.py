"""Open sockets against the process's open-file limit.

Every socket is a file descriptor. A process out of descriptors fails everywhere at once (the
accept loop, the database, Redis), so the hub raises its soft limit to the hard one at start,
and refuses new websockets with 503 while the live ones come close to what is left after the
descriptors its own pools need. The widget's long polls hold a connection each as a socket does
(``connectors.webchat.polling``), so they count too.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

UNLIMITED_FILES = 1 << 20
"""What an unlimited open-file limit counts as."""
SPARE_FILES = 64
"""Descriptors kept for the database, log files and plain HTTP requests."""
RETRY_AFTER_S = 5
LONG_POLLS = "/widget/poll/"
"""Where a ``GET`` is held open until there is something to answer."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("open-file limit stays at %d: %s", soft, exc)
    return UNLIMITED_FILES if soft == resource.RLIM_INFINITY else soft


def socket_allowance(open_file_limit: int, pooled_connections: int) -> int:
    """How many websockets may be open with ``open_file_limit`` descriptors in all."""
    return max(1, open_file_limit - pooled_connections - SPARE_FILES)


class SocketBudget:
    """Counts the open websockets of this process and refuses new ones past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.refused = 0
        self._last_log = 0.0

    def _log_refusal(self) -> None:
        # One line a second at most: a flood of refusals must not become a flood of log.
        self.refused += 1
        now = time.monotonic()
        if now - self._last_log >= 1.0:
            log.warning(
                "refusing new sockets: %d open of %d allowed (%d refused so far)",
                *(self.open, self.limit, self.refused),
            )
            self._last_log = now

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """503 for a websocket upgrade or a long poll when the budget is spent; counts the ones
        let in."""
        held = request.headers.get("Upgrade", "").lower() == "websocket" or (
            request.method == "GET" and request.path.startswith(LONG_POLLS)
        )
        if not held:
            return await handler(request)
        if self.open >= self.limit:
            self._log_refusal()
            return web.json_response(
                {"error": "too many open connections; try again shortly"},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self.open += 1
        try:
            return await handler(request)
        finally:
            self.open -= 1
