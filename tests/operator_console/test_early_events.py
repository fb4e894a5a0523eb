"""The console of the router's own process gets a batch's events at the commit, before the
events stream has them; the stream's copy then goes only to the sockets that did not get them,
and each socket learns where its early events are in the stream (``resume``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import redis.asyncio
from aiohttp import web

from core import streams
from core.bus import Bus, Delivery
from core.envelope import InboundMessage, MessageEvent, PresenceChange, decode
from operator_console.live import Connection, OperatorHub
from router.worker import Router
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.router_db import command, demo_ids, seeded_database

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]

CLOCK = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@dataclass
class Wired:
    """A router and a console hub of one process, as ``openlines run`` wires them."""

    router: Router
    hub: OperatorHub
    redis: redis.asyncio.Redis
    admin_id: int
    channel_id: int

    def socket(self) -> Connection:
        """An admin's socket, registered as the operator socket handler registers it."""
        conn = Connection(self.admin_id, web.WebSocketResponse(), "admin")
        self.hub.connections[self.admin_id].add(conn)
        return conn

    async def client_says(self, number: int) -> None:
        said = InboundMessage(
            channel_id=self.channel_id,
            external_user_id="v",
            external_message_id=f"m-{number}",
            text=f"message {number}",
        )
        await self.router.handle([Delivery(streams.inbound(0), f"0-{number}", said)])

    async def tail_until_read(self) -> None:
        """Run the hub's tail until it has read every entry now in the stream."""
        newest: Any = await self.redis.xrevrange(streams.EVENTS, count=1)
        task = asyncio.create_task(self.hub.run())
        try:
            async with asyncio.timeout(10):
                while self.hub.last_id != newest[0][0].decode():
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def wired(db_url: str, redis_url: str) -> AsyncIterator[Wired]:
    engine, sessions = await seeded_database(db_url)
    channel_id, admin_id = await demo_ids(sessions)
    client = redis.asyncio.Redis.from_url(redis_url)
    bus = Bus(client)
    router = Router(sessions, bus, lambda: CLOCK)
    hub = OperatorHub(bus)
    router.committed = hub.dispatch_committed
    try:
        await router.handle([command(PresenceChange(operator_id=admin_id, status="online"))])
        hub.last_id = router.events_published  # as if the tail had read it
        yield Wired(router, hub, client, admin_id, channel_id)
    finally:
        await client.aclose()
        await engine.dispose()


def _queued(conn: Connection) -> list[dict[str, Any]]:
    frames = []
    while not conn.queue.empty():
        frames.append(conn.queue.get_nowait())
    return frames


def _messages(frames: list[dict[str, Any]]) -> list[str]:
    return [f["message"]["text"] for f in frames if f["type"] == "message"]


async def _entry_of(client: redis.asyncio.Redis, text: str) -> str:
    """The id of the events entry announcing the message ``text``."""
    raw = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(streams.EVENTS))
    for entry_id, fields in raw:
        event = decode(fields[b"data"])
        if isinstance(event, MessageEvent) and event.message.text == text:
            return entry_id.decode()
    raise AssertionError(f"no events entry for {text!r}")


async def test_a_socket_gets_the_message_at_the_commit_and_once(wired: Wired) -> None:
    conn = wired.socket()
    await wired.client_says(1)
    # Nothing has read the stream yet: what the socket holds came from the commit.
    early = _queued(conn)
    assert _messages(early) == ["message 1"]
    assert all("stream_id" not in f for f in early), early

    await wired.tail_until_read()
    later = _queued(conn)
    assert _messages(later) == []  # the stream's copy is not sent again
    # The message's entry is the batch's last one for the console: from there on a reconnect.
    assert later[-1] == {"type": "resume", "stream_id": await _entry_of(wired.redis, "message 1")}


async def test_a_socket_that_connects_after_the_commit_gets_the_stream_copy(
    wired: Wired,
) -> None:
    early_socket = wired.socket()
    await wired.client_says(1)
    late_socket = wired.socket()  # registered before the stream's copy was read
    await wired.tail_until_read()

    assert _messages(_queued(early_socket)) == ["message 1"]
    late = _queued(late_socket)
    assert _messages(late) == ["message 1"]
    shown = next(f for f in late if f["type"] == "message")
    assert shown["stream_id"] == await _entry_of(wired.redis, "message 1")
    assert all(f["type"] != "resume" for f in late), late


async def test_events_after_unread_ones_wait_for_the_stream(wired: Wired) -> None:
    conn = wired.socket()
    await wired.client_says(1)
    assert _messages(_queued(conn)) == ["message 1"]
    # The first message's entries are not read yet: the next ones must not overtake them.
    await wired.client_says(2)
    await wired.client_says(3)
    assert _queued(conn) == []
    await wired.tail_until_read()
    from_stream = _queued(conn)
    assert _messages(from_stream) == ["message 2", "message 3"]
    assert all("stream_id" in f for f in from_stream), from_stream
    # Read up to the router's last entry: early again.
    await wired.client_says(4)
    assert _messages(_queued(conn)) == ["message 4"]


async def test_a_batch_handed_over_again_is_not_shown_again(wired: Wired) -> None:
    conn = wired.socket()
    await wired.client_says(1)
    first = _queued(conn)
    # The same events once more, as after a batch that was run again when its publish failed.
    raw = cast(list[tuple[bytes, dict[bytes, bytes]]], await wired.redis.xrange(streams.EVENTS))
    assert wired.hub.dispatch_committed([decode(fields[b"data"]) for _id, fields in raw]) == 0
    await wired.tail_until_read()
    assert _messages(first) == ["message 1"]
    assert _messages(_queued(conn)) == []
