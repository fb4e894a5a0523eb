"""A console tab that stops reading its socket is closed with 4008 once ``QUEUE_LIMIT`` frames
wait for it, and never holds up the others: the operator's other tab gets every frame, in
order, and the stalled tab's next socket reads on (``docs/PROTOCOL.md``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import redis.asyncio
from aiohttp import web

from core import streams
from core.bus import Bus
from core.envelope import ReminderEvent
from operator_console import live
from operator_console.live import CATCH_UP_MOST, HUB, QUEUE_LIMIT, Connection
from tests.support.console_world import World, logged_in
from tests.support.hubclient import OperatorClient, frames_in
from tests.support.small_buffers import long_reminder as reminder
from tests.support.small_buffers import small_sends, small_session

RESYNC = 4008
CHUNK = 100


async def next_reminder(client: OperatorClient) -> int:
    """The ``waited_minutes`` of the next reminder frame (pings and the like skipped)."""
    while True:
        frame = await client.receive()
        if frame["type"] == "reminder":
            return int(frame["waited_minutes"])


@dataclass
class Tabs:
    """Two console tabs of Olga's, both with their socket open, and the events stream."""

    stalled: OperatorClient
    reading: OperatorClient
    bus: Bus
    open: set[Connection]
    """The hub's sockets of Olga's."""
    olga: int
    dialog: int

    async def until_one_falls_behind(self) -> int:
        """Publish reminders for Olga until one of her tabs falls behind; how many it took.

        The stalled tab reads nothing: its frames fill the socket's buffers, then its queue.
        The reading tab is read after every chunk, so it never falls behind, and gets every
        one, in order."""
        sent = 0
        while not any(tab.closing for tab in self.open):
            assert sent < 20 * QUEUE_LIMIT, "the stalled tab was never closed"
            numbers = range(sent, sent + CHUNK)
            await self.bus.publish_many([self.reminder(n) for n in numbers])
            got = [await next_reminder(self.reading) for _ in numbers]
            assert got == list(numbers)
            sent += CHUNK
        assert sent > QUEUE_LIMIT
        return sent

    def reminder(self, number: int) -> tuple[str, ReminderEvent]:
        return streams.EVENTS, reminder(number, self.olga, self.dialog)


@pytest.fixture
async def tabs(hub: str, world: World, app: web.Application, redis_url: str) -> AsyncIterator[Tabs]:
    stalled = await logged_in(hub, "olga")
    reading = await logged_in(hub, "olga")
    client = redis.asyncio.Redis.from_url(redis_url)
    olga = world.ids["olga"]
    try:
        await stalled.open_socket()
        await reading.open_socket()
        open_tabs = app[HUB].connections[olga]
        assert len(open_tabs) == 2
        yield Tabs(stalled, reading, Bus(client), open_tabs, olga, world.dialogs["olga"])
    finally:
        await client.aclose()
        await stalled.close()
        await reading.close()


async def test_a_tab_that_stops_reading_is_closed_and_the_other_tab_gets_every_frame(
    tabs: Tabs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="operator_console.live")
    sent = await tabs.until_one_falls_behind()

    # What the stalled browser reads once it looks again: the frames that were in flight, in
    # order and without a gap, then the close that tells it to reconnect and resync.
    stalled = tabs.stalled
    assert stalled.ws is not None
    before: list[int] = []
    async with asyncio.timeout(10):
        while True:
            msg = await stalled.ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            before += [
                int(frame["waited_minutes"])
                for frame in frames_in(msg)
                if frame["type"] == "reminder"
            ]
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
    assert stalled.ws.close_code == RESYNC
    assert before == list(range(len(before)))
    assert len(before) < sent
    fell_behind = [r for r in caplog.records if "fell behind" in r.getMessage()]
    assert len(fell_behind) == 1

    # The reading tab is still open, and the stalled one's next socket works.
    hello = await stalled.open_socket()
    assert hello["type"] == "hello"
    await tabs.bus.publish_many([tabs.reminder(sent)])
    assert await next_reminder(stalled) == sent
    assert await next_reminder(tabs.reading) == sent


async def test_a_tab_that_never_reads_again_is_dropped(
    tabs: Tabs, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its frames and its close wait in buffers it never empties: after ``CLOSE_WAIT_S`` the
    hub drops the connection, and holds nothing more for it."""
    monkeypatch.setattr(live, "CLOSE_WAIT_S", 1.0)
    caplog.set_level(logging.WARNING, logger="operator_console.live")
    sent = await tabs.until_one_falls_behind()

    async with asyncio.timeout(10):
        while len(tabs.open) != 1:
            await asyncio.sleep(0.05)
    assert not next(iter(tabs.open)).closing
    dropped = [r for r in caplog.records if "read nothing for" in r.getMessage()]
    assert len(dropped) == 1

    await tabs.bus.publish_many([tabs.reminder(sent)])
    assert await next_reminder(tabs.reading) == sent


async def test_a_tab_back_after_a_long_absence_gets_the_first_frames_and_reads_live(
    hub: str, world: World, app: web.Application, redis_url: str
) -> None:
    """A tab that missed more than ``CATCH_UP_MOST`` frames gets the oldest of them, that many
    frames with its hello, and ``resumed: false`` (the console reloads its lists from the
    database on every hello): the rest of its queue is left for the live frames, and it is not
    closed."""
    olga = world.ids["olga"]
    dialog = world.dialogs["olga"]
    tab = await logged_in(hub, "olga")
    client = redis.asyncio.Redis.from_url(redis_url)
    bus = Bus(client)
    try:
        await tab.open_socket()
        await bus.publish_many([(streams.EVENTS, reminder(0, olga, dialog))])
        assert await next_reminder(tab) == 0
        last_seen = tab.frames[-1]["stream_id"]
        await tab.close()

        missed = 3 * QUEUE_LIMIT
        await bus.publish_many(
            [(streams.EVENTS, reminder(n, olga, dialog)) for n in range(1, missed + 1)]
        )
        newest: Any = await client.xrevrange(streams.EVENTS, count=1)
        async with asyncio.timeout(10):  # dispatched by the hub, to nobody
            while app[HUB].last_id != newest[0][0].decode():
                await asyncio.sleep(0.05)

        tab = await logged_in(hub, "olga")
        url = f"{hub.replace('http', 'ws', 1)}/api/ws?after={last_seen}"
        tab.ws = await tab.http.ws_connect(url)
        hello = await tab.receive()
        assert hello["type"] == "hello" and hello["resumed"] is False
        # The hello and the oldest of what it missed, ``CATCH_UP_MOST`` frames in all: the
        # reminders from the first on, and the few presence and dialog frames of the logins.
        caught_up = [await tab.receive() for _ in range(CATCH_UP_MOST - 1)]
        reminders = [f["waited_minutes"] for f in caught_up if f["type"] == "reminder"]
        assert reminders == list(range(1, len(reminders) + 1))
        assert len(reminders) >= CATCH_UP_MOST - 10

        await bus.publish_many([(streams.EVENTS, reminder(missed + 1, olga, dialog))])
        assert await next_reminder(tab) == missed + 1
    finally:
        await client.aclose()
        await tab.close()


async def test_a_tab_that_stops_answering_lets_its_connection_go(
    hub: str, world: World, app: web.Application, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tab that stops reading with far fewer than ``QUEUE_LIMIT`` frames waiting is never
    closed for falling behind; its heartbeat goes unanswered and the socket ends. Its
    connection still holds frames, and is cut off then (``core.socket_end``)."""
    monkeypatch.setattr("operator_console.operator_socket.HEARTBEAT_S", 1.0)  # pinged every 2 s
    monkeypatch.setattr("core.socket_end.LINGER_S", 0.5)
    olga = world.ids["olga"]
    tab = OperatorClient(hub)
    await tab.http.close()
    tab.http = small_session(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": hub})
    client = redis.asyncio.Redis.from_url(redis_url)
    bus = Bus(client)
    try:
        await tab.login("olga", "pw-olga")
        await tab.open_socket()
        (conn,) = app[HUB].connections[olga]
        assert conn.transport is not None
        transport = conn.transport
        small_sends(transport)

        # Reminders it never reads, a few at a time, until some stay in the hub's own buffer.
        sent = 0
        async with asyncio.timeout(60):
            while not transport.get_write_buffer_size():
                numbers = range(sent, sent + 10)
                await bus.publish_many(
                    [(streams.EVENTS, reminder(n, olga, world.dialogs["olga"])) for n in numbers]
                )
                sent = numbers.stop
                await asyncio.sleep(0.05)
        assert sent < QUEUE_LIMIT and not conn.closing

        async with asyncio.timeout(15):
            while conn in app[HUB].connections[olga] or transport.get_write_buffer_size():
                await asyncio.sleep(0.1)
        assert transport.is_closing()
    finally:
        await client.aclose()
        await tab.close()
