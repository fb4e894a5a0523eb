"""GET /metrics in Prometheus's text format, behind a token or on a port of its own.

With ``metrics_token`` set, the hub's own port answers ``/metrics`` to ``Authorization: Bearer
<token>``. With ``metrics_port`` set, a second listener on ``metrics_host`` serves only
``/metrics`` (and asks for the token too if one is set). With neither, ``/metrics`` is off: the
figures name streams, lines and load, which are not for the public internet.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.app_keys import REDIS, SESSIONS
from core.metrics import HubMetrics
from operator_console import scrape
from operator_console.keys import METRICS, ROUTER_SERVICE, SETTINGS

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_S = 5.0


async def render(app: web.Application) -> bytes:
    """The exposition: inline counters plus the figures read now."""
    metrics: HubMetrics = app[METRICS]
    families: list[Any] = []
    settings = app[SETTINGS]
    try:
        names = scrape.hub_streams(settings.inbound_shards)
        lengths, groups = await asyncio.wait_for(
            scrape.group_figures(app[REDIS], names), SCRAPE_TIMEOUT_S
        )
        families += scrape.stream_families(lengths, groups)
    except Exception as exc:
        log.warning("metrics: stream figures unavailable: %s", exc)
    sessions = app[SESSIONS]
    try:
        families += await asyncio.wait_for(scrape.dialog_families(sessions), SCRAPE_TIMEOUT_S)
    except Exception as exc:
        log.warning("metrics: dialog figures unavailable: %s", exc)
    families += scrape.pool_families(sessions.kw["bind"])
    router = app.get(ROUTER_SERVICE)
    if router is not None and router.router.writer is not None:
        families += scrape.writer_families(router.router.writer)
    metrics.scraped.replace(families)
    return generate_latest(metrics.registry)


def _allowed(request: web.Request, token: str) -> bool:
    if not token:
        return True
    offered = request.headers.get("Authorization", "")
    return hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())


def handler(app: web.Application, *, separate_port: bool) -> Handler:
    """The /metrics handler for the hub's port or for the metrics port."""

    async def metrics(request: web.Request) -> web.Response:
        """GET /metrics: Prometheus text exposition."""
        settings = app[SETTINGS]
        token = settings.metrics_token.get_secret_value()
        if not separate_port and not token:
            raise web.HTTPNotFound(
                text="metrics are off on this port: set metrics_token or metrics_port"
            )
        if not _allowed(request, token):
            raise web.HTTPUnauthorized(
                text="metrics: Authorization: Bearer <metrics_token> required",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        body = await render(app)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics


def install(app: web.Application) -> None:
    """Route /metrics on the hub's port and start the metrics port if one is set."""
    app.router.add_get("/metrics", handler(app, separate_port=False))
    app.cleanup_ctx.append(_metrics_port)


async def _metrics_port(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.metrics_port:
        yield
        return
    side = web.Application()
    side.router.add_get("/metrics", handler(app, separate_port=True))
    runner = web.AppRunner(side, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    try:
        yield
    finally:
        await runner.cleanup()
