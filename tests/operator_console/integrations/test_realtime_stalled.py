"""An integration whose event socket stops reading: its heartbeat goes unanswered, the socket
ends, and the connection, which still holds frames the client never took, is cut off
(``core.socket_end``) instead of staying open until the client reads again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import redis.asyncio
from aiohttp import web

from core import streams
from core.bus import Bus
from core.envelope import IntegrationEvent
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.console_world import logged_in
from tests.support.small_buffers import small_sends, small_session

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]

PATH = "/api/integrations/events"
NAME = "Анна " + "Петрова " * 250
"""A long client name makes each frame about 2 KB, so the buffers fill after a few hundred."""


@pytest.fixture
def sockets() -> list[asyncio.Transport]:
    """The connections of the event sockets the hub answered."""
    return []


@pytest.fixture
def app(app: web.Application, sockets: list[asyncio.Transport]) -> web.Application:
    """The hub's application, its event sockets' connections noted in ``sockets`` with small
    kernel send buffers: set up before ``hub`` serves it, while it still takes handlers."""

    async def small(request: web.Request, _response: web.StreamResponse) -> None:
        transport = request.transport
        if request.path == PATH and isinstance(transport, asyncio.Transport):
            small_sends(transport)
            sockets.append(transport)

    app.on_response_prepare.append(small)
    return app


def created(number: int) -> IntegrationEvent:
    return IntegrationEvent(
        id=f"stalled-{number}",
        event="client.created",
        at=datetime.now(UTC),
        data={"client": {"id": number, "name": NAME}},
    )


async def test_an_event_socket_that_stops_reading_is_cut_off(
    hub: str,
    sockets: list[asyncio.Transport],
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("operator_console.integrations.realtime.HEARTBEAT_S", 1.0)
    monkeypatch.setattr("core.socket_end.LINGER_S", 0.5)
    admin = await logged_in(hub, "admin")
    try:
        _, token = await admin.call(
            "POST", "/api/admin/tokens", {"name": "crm", "scopes": ["clients:manage"]}
        )
    finally:
        await admin.close()
    client = redis.asyncio.Redis.from_url(redis_url)
    bus = Bus(client)
    url = hub.replace("http", "ws", 1) + PATH + "?events=client.created"
    auth = {"Authorization": f"Bearer {token['value']}"}
    async with small_session() as http, http.ws_connect(url, headers=auth) as ws:
        try:
            assert (await ws.receive_json(timeout=5))["type"] == "ready"
            (transport,) = sockets
            # Events it never reads, a few at a time, until some stay in the hub's own buffer.
            sent = 0
            async with asyncio.timeout(60):
                while not transport.get_write_buffer_size():
                    numbers = range(sent, sent + 10)
                    await bus.publish_many([(streams.EVENTS, created(n)) for n in numbers])
                    sent = numbers.stop
                    await asyncio.sleep(0.05)
            assert not transport.is_closing()

            # Unanswered pings end the socket; what its connection still holds is dropped.
            async with asyncio.timeout(15):
                while not transport.is_closing() or transport.get_write_buffer_size():
                    await asyncio.sleep(0.1)
        finally:
            await client.aclose()
