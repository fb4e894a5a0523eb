"""A visitor whose widget stops reading its socket never holds up the answers to the others: the
web chat's outbound stream is pushed to the sockets of this process one after another, and a
socket that holds too much unsent is dropped rather than waited for (the widget reconnects and
reads back what it missed, ``docs/PROTOCOL.md``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio
from sqlalchemy import select

from connectors.webchat.delivery import BEHIND_BYTES
from core import streams
from core.app_keys import SESSIONS
from core.bus import Bus
from core.db.schema import Channel
from core.envelope import OutboundMessage
from tests.support.connector_hub import Hub, make_settings
from tests.support.hubclient import VisitorClient
from tests.support.small_buffers import small_sends, small_session

TEXT = "Ответ оператора. " * 200
"""About 6 KB a frame: the stalled socket's buffers fill after some hundreds of them."""
CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


@pytest.fixture
async def hub(start_hub: Any, redis_url: str, tmp_path: Path) -> Hub:
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path))
    return hub


def answer(
    message_id: int, number: int, channel_id: int, visitor_id: str, long: bool = False
) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        dialog_id=1,
        channel_id=channel_id,
        external_user_id=visitor_id,
        author="system",
        text=f"{number}. {TEXT if long else 'Ответ.'}",
        at=datetime(2030, 1, 7, 12, 0, tzinfo=UTC),
    )


async def test_a_stalled_visitor_socket_does_not_hold_up_the_others(
    hub: Hub, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.webchat.delivery")
    stalled, reading = VisitorClient(hub.base), VisitorClient(hub.base)
    client = redis.asyncio.Redis.from_url(redis_url)
    bus = Bus(client)
    try:
        stalled_id = (await stalled.connect())["visitor_id"]
        reading_id = (await reading.connect())["visitor_id"]
        async with hub.server.app[SESSIONS]() as session:
            channel_id = await session.scalar(select(Channel.id).where(Channel.key == "demo"))
        assert channel_id is not None
        out = streams.outbound("webchat")

        # The stalled visitor reads nothing from here on. Far more is sent to them than any
        # socket's buffers hold, each long answer beside a short one to the reading visitor,
        # who reads on (a hundred long answers to them at once, pushed in one turn of this
        # process's loop, would fill their buffers too).
        got: list[int] = []
        for chunk in range(20):
            numbers = range(100 * chunk, 100 * chunk + 100)
            await bus.publish_many(
                [(out, answer(2 * n, n, channel_id, stalled_id, long=True)) for n in numbers]
                + [(out, answer(2 * n + 1, n, channel_id, reading_id)) for n in numbers]
            )
            async with asyncio.timeout(10):
                while len(got) < numbers.stop:
                    frame = await reading.receive()
                    if frame["type"] == "message":
                        got.append(int(frame["text"].split(".")[0]))
        assert got == list(range(2000))

        # The stalled socket was dropped, once; its widget reconnects.
        assert stalled.ws is not None
        async with asyncio.timeout(10):
            while (await stalled.ws.receive()).type not in CLOSED:
                pass
        dropped = [r for r in caplog.records if "has not read" in r.getMessage()]
        assert len(dropped) == 1
        assert (await stalled.connect())["type"] == "welcome"
    finally:
        await client.aclose()
        await stalled.close()
        await reading.close()


async def test_a_visitor_socket_that_ends_unread_lets_its_connection_go(
    hub: Hub, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A widget that stops reading, with less unsent than ``BEHIND_BYTES``, is not dropped by a
    push; its heartbeat goes unanswered and the socket ends. Its connection, closed gently,
    would then wait for the client to take what it holds, for as long as the client's kernel
    acknowledges: it is cut off instead (``core.socket_end``)."""
    monkeypatch.setattr("connectors.webchat.adapter.HEARTBEAT_S", 2.0)
    monkeypatch.setattr("core.socket_end.LINGER_S", 0.5)
    assert hub.server.runner is not None and hub.server.runner.server is not None
    server = hub.server.runner.server
    before = set(server.connections)
    stalled = VisitorClient(hub.base)
    # Small kernel buffers on both ends, so that they fill with a few answers, well before
    # the first heartbeat.
    await stalled.http.close()
    stalled.http = small_session()
    client = redis.asyncio.Redis.from_url(redis_url)
    bus = Bus(client)
    try:
        stalled_id = (await stalled.connect())["visitor_id"]
        (connection,) = set(server.connections) - before
        transport = connection.transport
        assert transport is not None
        small_sends(transport)
        async with hub.server.app[SESSIONS]() as session:
            channel_id = await session.scalar(select(Channel.id).where(Channel.key == "demo"))
        assert channel_id is not None

        # Answers it never reads, a few at a time, until some stay in the hub's own buffer:
        # then the kernel's buffers on both sides are full, and the hub holds a few answers'
        # worth, far below the bound at which a push drops the socket.
        sent = 0
        async with asyncio.timeout(60):
            while not transport.get_write_buffer_size():
                out = streams.outbound("webchat")
                batch = [
                    (out, answer(n, n, channel_id, stalled_id, long=True))
                    for n in range(sent, sent + 10)
                ]
                await bus.publish_many(batch)
                sent += len(batch)
                await asyncio.sleep(0.05)
        assert 0 < transport.get_write_buffer_size() < BEHIND_BYTES

        async with asyncio.timeout(15):
            while connection in server.connections:
                await asyncio.sleep(0.1)
        assert transport.is_closing()
    finally:
        await client.aclose()
        await stalled.close()
