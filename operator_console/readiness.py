"""GET /readyz: is this process doing its share of the work?

``/healthz`` says whether Redis and the database answer. ``/readyz`` adds what a load balancer
or an orchestrator needs to know before sending work here: the lag of every consumer group,
the router leases this process holds, and a 503 when it is a router holding no lease while
some router stream has no holder at all (it should have taken that one).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from core.app_keys import REDIS
from operator_console import scrape
from operator_console.keys import ROUTER_SERVICE, SETTINGS
from operator_console.pages import health_problems

TIMEOUT_S = 2.0


async def readyz(request: web.Request) -> web.Response:
    """GET /readyz: 200 when healthy and holding the leases it should, else 503 with reasons."""
    app = request.app
    problems = await health_problems(app)
    body: dict[str, Any] = {}
    try:
        names = scrape.hub_streams(app[SETTINGS].inbound_shards)
        _lengths, groups = await asyncio.wait_for(
            scrape.group_figures(app[REDIS], names), TIMEOUT_S
        )
        body["consumers"] = [
            {"stream": g.stream, "group": g.group, "pending": g.pending, "lag": g.lag}
            for g in groups
        ]
    except Exception as exc:
        problems.append(f"consumer figures: {type(exc).__name__}: {exc}")
    service = app.get(ROUTER_SERVICE)
    if service is not None:
        held = service.held()
        body["leases"] = held
        if not held and not problems:
            try:
                free = await asyncio.wait_for(service.unheld(), TIMEOUT_S)
            except Exception as exc:
                problems.append(f"leases: {type(exc).__name__}: {exc}")
            else:
                if free:
                    problems.append(
                        f"router holds no lease while {len(free)} router streams have no "
                        f"holder: {', '.join(free)}"
                    )
    if problems:
        return web.json_response(
            {"status": "unavailable", "problems": problems, **body}, status=503
        )
    return web.json_response({"status": "ok", **body})
