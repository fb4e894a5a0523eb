"""``GET /api/ws?batch=1``: each websocket message is a list of the frames queued when it went
out, in order, their event ids one more each. Without it, a message is one frame, as before
(``docs/PROTOCOL.md``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from core import streams
from core.bus import Bus
from operator_console.live import BATCH_MOST
from tests.support.console_world import World, logged_in
from tests.support.hubclient import OperatorClient
from tests.support.small_buffers import long_reminder

BURST = 120


async def burst_as_read(hub: str, world: World, bus: Bus, batch: bool) -> list[Any]:
    """Olga's socket, opened with or without ``batch``, after a burst of ``BURST`` reminders
    published together: each websocket message as it came, decoded, up to the last reminder."""
    olga = await logged_in(hub, "olga")
    try:
        await olga.open_socket(batch=batch)
        assert olga.ws is not None
        await bus.publish_many(
            [
                (streams.EVENTS, long_reminder(n, world.ids["olga"], world.dialogs["olga"]))
                for n in range(BURST)
            ]
        )
        messages: list[Any] = []
        async with asyncio.timeout(10):
            while True:
                msg = await olga.ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                message = json.loads(msg.data)
                messages.append(message)
                frames = message if isinstance(message, list) else [message]
                if any(frame.get("waited_minutes") == BURST - 1 for frame in frames):
                    return messages
    finally:
        await olga.close()


async def test_a_burst_comes_in_lists_in_order_without_a_gap(
    hub: str, world: World, bus: Bus
) -> None:
    messages = await burst_as_read(hub, world, bus, batch=True)
    assert all(isinstance(m, list) and 1 <= len(m) <= BATCH_MOST for m in messages)
    frames = [frame for message in messages for frame in message]
    waited = [f["waited_minutes"] for f in frames if f["type"] == "reminder"]
    assert waited == list(range(BURST))
    ids = [frame["event_id"] for frame in frames]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    # The burst reaches the socket together: a few messages carry it, not one each.
    assert len(messages) <= BURST // 10, [len(m) for m in messages]


async def test_without_batch_each_message_is_one_frame(hub: str, world: World, bus: Bus) -> None:
    messages = await burst_as_read(hub, world, bus, batch=False)
    assert all(isinstance(m, dict) for m in messages)
    waited = [m["waited_minutes"] for m in messages if m["type"] == "reminder"]
    assert waited == list(range(BURST))


async def test_a_batch_other_than_0_or_1_is_refused_with_the_reason(hub: str, world: World) -> None:
    olga: OperatorClient = await logged_in(hub, "olga")
    try:
        async with olga.http.get(f"{hub}/api/ws?batch=yes") as answer:
            assert answer.status == 400
            assert (await answer.json())["error"] == "batch: 0 or 1"
    finally:
        await olga.close()
