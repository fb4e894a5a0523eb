"""``GET /api/integrations/events?batch=1``: each websocket message is a list of the frames of
one read of the stream, in order; without it, one frame a message (``docs/INTEGRATIONS.md``)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from core import streams
from core.bus import Bus
from core.envelope import IntegrationEvent
from operator_console.live import BATCH_MOST
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.console_world import logged_in

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]

PATH = "/api/integrations/events"
BURST = 120


def closed(number: int) -> IntegrationEvent:
    return IntegrationEvent(
        id=f"burst-{number}",
        event="dialog.closed",
        at=datetime.now(UTC),
        data={"dialog": {"id": number}},
    )


async def _token(hub: str) -> str:
    admin = await logged_in(hub, "admin")
    try:
        status, made = await admin.call(
            "POST", "/api/admin/tokens", {"name": "bot", "scopes": ["dialogs:read"]}
        )
        assert status == 201, made
        return str(made["value"])
    finally:
        await admin.close()


async def burst_as_read(hub: str, bus: Bus, query: str) -> list[Any]:
    """Each websocket message after ``ready``, decoded, until the last of a burst of
    ``BURST`` events published together (and one other event, which the socket must skip)."""
    url = hub.replace("http", "ws", 1) + PATH + query
    auth = {"Authorization": f"Bearer {await _token(hub)}"}
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=auth) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "ready"
        other = IntegrationEvent(
            id="other", event="dialog.opened", at=datetime.now(UTC), data={"dialog": {"id": 0}}
        )
        await bus.publish_many(
            [(streams.EVENTS, other)] + [(streams.EVENTS, closed(n)) for n in range(BURST)]
        )
        messages: list[Any] = []
        async with asyncio.timeout(10):
            while True:
                msg = await ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                message = json.loads(msg.data)
                messages.append(message)
                frames = message if isinstance(message, list) else [message]
                if any(frame["id"] == f"burst-{BURST - 1}" for frame in frames):
                    return messages


async def test_a_burst_comes_in_lists_in_order(hub: str, bus: Bus) -> None:
    messages = await burst_as_read(hub, bus, "?events=dialog.closed&batch=1")
    assert all(isinstance(m, list) and 1 <= len(m) <= BATCH_MOST for m in messages)
    frames = [frame for message in messages for frame in message]
    assert [f["id"] for f in frames] == [f"burst-{n}" for n in range(BURST)]
    assert all(f["type"] == "dialog.closed" for f in frames)
    ids = [tuple(map(int, f["stream_id"].split("-"))) for f in frames]
    assert ids == sorted(ids)
    # The burst reaches the socket together: a few messages carry it, not one each.
    assert len(messages) <= BURST // 10, [len(m) for m in messages]


async def test_without_batch_each_message_is_one_frame(hub: str, bus: Bus) -> None:
    messages = await burst_as_read(hub, bus, "?events=dialog.closed")
    assert all(isinstance(m, dict) for m in messages)
    assert [m["id"] for m in messages] == [f"burst-{n}" for n in range(BURST)]


async def test_a_batch_other_than_0_or_1_is_refused_with_the_reason(hub: str) -> None:
    auth = {"Authorization": f"Bearer {await _token(hub)}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(hub + PATH + "?batch=yes", headers=auth) as answer,
    ):
        assert answer.status == 400
        assert (await answer.json())["error"] == "batch: 0 or 1"
