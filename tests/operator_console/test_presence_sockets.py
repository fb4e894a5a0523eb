"""An operator's console sockets are counted across console processes: two console apps
against one Redis, a socket on each. Closing one keeps the operator online; closing the last
takes them offline once the grace has passed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from aiohttp.test_utils import TestServer

from config.settings import Settings
from core.envelope import utcnow
from core.presence import ConsoleSockets
from operator_console.app import build_app
from operator_console.live import SOCKET_TTL
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.console_world import World, logged_in

GRACE_S = 0.6


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"presence_grace_s": GRACE_S})


@pytest.fixture
async def second_console(settings: Settings, hub: str) -> AsyncIterator[str]:
    """Another console process (no router, no timers) on the same Redis and database."""
    server = TestServer(build_app(settings, role="console"), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@ON_SQLITE
async def test_the_last_socket_in_any_console_process_keeps_the_operator_online(
    hub: str, second_console: str, world: World, redis_url: str
) -> None:
    olga = await logged_in(hub, "olga")
    count = ConsoleSockets(redis.asyncio.Redis.from_url(redis_url), SOCKET_TTL)
    try:
        # The socket first: a sign-in without one is taken offline once the (short) grace has
        # passed, so waiting for "online" before it would race the grace timer.
        hello = await olga.open_socket()
        assert hello["type"] == "hello"
        await olga.wait_status("online")
        other = await olga.http.ws_connect(
            f"{second_console.replace('http', 'ws', 1)}/api/ws", headers={"Origin": second_console}
        )
        assert (await other.receive_json(timeout=5))["type"] == "hello"
        assert await count.live(world.ids["olga"], utcnow()) == 2

        # The socket in the first process closes; the one in the second still counts.
        assert olga.ws is not None
        await olga.ws.close()
        await asyncio.sleep(GRACE_S * 3)
        assert await count.live(world.ids["olga"], utcnow()) == 1
        status, me = await olga.call("GET", "/api/me")
        assert status == 200 and me["operator"]["status"] == "online"

        # The last one closes: offline once the grace is over, and not before.
        await other.close()
        status, me = await olga.call("GET", "/api/me")
        assert me["operator"]["status"] == "online"
        await olga.wait_status("offline", timeout=GRACE_S + 5)
        assert await count.live(world.ids["olga"], utcnow()) == 0
    finally:
        await count.redis.aclose()
        await olga.close()
