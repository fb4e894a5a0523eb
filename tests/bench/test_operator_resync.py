"""The benchmark's operator does what the console does when the hub closes its socket as behind
(``RESYNC``): it opens the socket again after the last event it had and reads back what the hub
could not replay. Before, its socket stayed closed and the run waited for replies that no
operator was asked to write."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from bench.webchat_load import Operator, Shared, Visitor
from core import streams
from core.bus import Bus
from core.envelope import ReminderEvent
from operator_console.live import HUB, QUEUE_LIMIT
from tests.support.admin import ADMIN_PASSWORD
from tests.support.small_buffers import long_reminder

CHUNK = 100


def reminders(start: int, operator_id: int) -> list[tuple[str, ReminderEvent]]:
    return [
        (streams.EVENTS, long_reminder(number, operator_id, dialog_id=1))
        for number in range(start, start + CHUNK)
    ]


async def test_an_operator_closed_as_behind_answers_what_came_meanwhile(
    hub: str, app: web.Application, bus: Bus
) -> None:
    shared = Shared()
    operator = Operator(hub, "admin", ADMIN_PASSWORD)
    http = aiohttp.ClientSession()
    visitor = Visitor(0, hub, "demo", http)
    try:
        await operator.login()
        sockets = app[HUB].connections[operator.id]
        # Nobody reads the operator's socket yet: its frames fill the buffers, then its queue.
        sent = 0
        while not any(conn.closing for conn in sockets):
            assert sent < 20 * QUEUE_LIMIT, "the unread socket was never closed"
            await bus.publish_many(reminders(sent, operator.id))
            sent += CHUNK
            await asyncio.sleep(0.05)

        # A visitor's message comes while the socket is closed: no frame of it reaches the
        # operator's old socket.
        await visitor.connect()
        start = asyncio.Event()
        start.set()
        talk = asyncio.create_task(visitor.converse(1, shared, 30, start))
        async with asyncio.timeout(10):
            while (track := shared.tracks.get("v0-m0")) is None or track.echoed is None:
                await asyncio.sleep(0.02)

        serving = asyncio.create_task(operator.serve(shared))
        await asyncio.wait_for(talk, 40)
        assert shared.resyncs == 1
        assert dict(shared.errors) == {}, shared.error_samples
        assert track.console is not None and track.console > track.echoed
        assert track.reply_seen is not None
        assert operator.ws is not None and not operator.ws.closed
    finally:
        await visitor.close()
        await http.close()
        await operator.close()
    await asyncio.wait_for(serving, 10)
    assert dict(shared.errors) == {}, shared.error_samples
