"""Delivery statuses reach each operator socket as one ``delivery`` frame per event, with only
the changes of the dialogs that operator sees: live from the stream, and read back from it for
a socket that reconnects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio
from aiohttp import web

from core import streams
from core.bus import Bus
from core.envelope import DeliveryChange, DeliveryEvent
from operator_console.live import Connection, OperatorHub

SUPERVISOR, OLGA, IVAN = 1, 2, 3

EVENT = DeliveryEvent(
    key="delivery:test",
    changes=(
        DeliveryChange(id=10, dialog_id=100, delivery_status="sent", recipients=(OLGA, SUPERVISOR)),
        DeliveryChange(
            id=20,
            dialog_id=200,
            delivery_status="failed",
            delivery_error="blocked",
            recipients=(SUPERVISOR,),
        ),
        DeliveryChange(id=10, dialog_id=100, delivery_status="seen", recipients=(OLGA, SUPERVISOR)),
    ),
)


@pytest.fixture
async def hub(redis_url: str) -> AsyncIterator[OperatorHub]:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield OperatorHub(Bus(client))
    finally:
        await client.aclose()


def connect(hub: OperatorHub, operator_id: int) -> Connection:
    conn = Connection(operator_id, web.WebSocketResponse())
    hub.connections[operator_id].add(conn)
    return conn


def queued(conn: Connection) -> list[dict[str, Any]]:
    frames = []
    while not conn.queue.empty():
        frames.append(conn.queue.get_nowait())
    return frames


def statuses(frame: dict[str, Any]) -> list[tuple[int, str, str | None]]:
    assert frame["type"] == "delivery"
    return [(c["id"], c["delivery_status"], c["delivery_error"]) for c in frame["changes"]]


async def test_each_socket_gets_one_frame_with_the_changes_of_the_dialogs_it_sees(
    hub: OperatorHub,
) -> None:
    supervisor, olga, ivan = connect(hub, SUPERVISOR), connect(hub, OLGA), connect(hub, IVAN)

    assert hub.dispatch(EVENT, "5-0") == 2

    [everything] = queued(supervisor)
    assert statuses(everything) == [
        (10, "sent", None),
        (20, "failed", "blocked"),
        (10, "seen", None),
    ]
    assert everything["stream_id"] == "5-0"
    [hers] = queued(olga)
    assert statuses(hers) == [(10, "sent", None), (10, "seen", None)]
    assert [c["dialog_id"] for c in hers["changes"]] == [100, 100]
    assert "recipients" not in hers["changes"][0]  # who else is told is not the caller's business
    assert queued(ivan) == []
    assert hub.dispatch(EVENT, "5-0") == 0  # the same event again (at-least-once): dropped


async def test_a_reconnecting_socket_reads_back_only_its_own_changes(hub: OperatorHub) -> None:
    entry_id = await hub.bus.publish(streams.EVENTS, EVENT)
    hub.last_id = entry_id  # as if the tail had dispatched it while Olga was away
    olga = Connection(OLGA, web.WebSocketResponse())

    assert await hub.queue_dispatched(olga, "0-0")

    [frame] = queued(olga)
    assert statuses(frame) == [(10, "sent", None), (10, "seen", None)]
    assert frame["stream_id"] == entry_id
    ivan = Connection(IVAN, web.WebSocketResponse())
    assert await hub.queue_dispatched(ivan, "0-0")
    assert queued(ivan) == []
