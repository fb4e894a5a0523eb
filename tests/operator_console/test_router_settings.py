"""The router's settings reach the router the hub runs."""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from config.settings import Settings
from operator_console.app import build_app
from operator_console.keys import ROUTER_SERVICE


async def _started(settings: Settings) -> TestServer:
    server = TestServer(build_app(settings), host="127.0.0.1")
    await server.start_server()
    return server


async def test_the_hubs_router_gathers_as_router_gather_ms_says(settings: Settings) -> None:
    server = await _started(
        settings.model_copy(update={"router_gather_ms": 4.0, "router_gather_per_s": 120.0})
    )
    try:
        gathering = server.app[ROUTER_SERVICE].router.gathering
        assert gathering is not None
        assert (gathering.window_s, gathering.busy_per_s) == (0.004, 120.0)
    finally:
        await server.close()


async def test_by_default_the_hubs_router_never_waits_to_gather(settings: Settings) -> None:
    server = await _started(settings)
    try:
        assert server.app[ROUTER_SERVICE].router.gathering is None
    finally:
        await server.close()
