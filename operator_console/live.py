"""Operator websockets: each connection has its own queue, monotonic event ids and a heartbeat.

Every console process tails the ``events`` stream and pushes each event to the connected
operators the producer listed as recipients. Delivery is at least once on the bus, so events
carry a stable key and a repeat is dropped here. A connection whose queue overflows is closed: the
browser reconnects and reloads from the database, which is always the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, defaultdict
from typing import Any

from aiohttp import WSMsgType, web

from core import streams
from core.bus import Bus
from core.envelope import DialogEvent, MessageEvent, ReminderEvent
from operator_console.keys import OPERATOR
from operator_console.views import operator_json

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000
HEARTBEAT_S = 20.0
SEEN_KEYS = 50_000


class Connection:
    """One operator browser tab."""

    def __init__(self, operator_id: int, ws: web.WebSocketResponse) -> None:
        self.operator_id = operator_id
        self.ws = ws
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self.event_id = 0

    def push(self, frame: dict[str, Any]) -> bool:
        """Queue a frame; False when the queue is full (the connection must resync)."""
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    async def pump(self) -> None:
        """Send queued frames with their event ids, and a heartbeat when idle."""
        while True:
            try:
                frame = await asyncio.wait_for(self.queue.get(), HEARTBEAT_S)
            except TimeoutError:
                frame = {"type": "ping"}
            self.event_id += 1
            await self.ws.send_json({**frame, "event_id": self.event_id})


class OperatorHub:
    """The connected operators of this process, and the fan-out from the events stream."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.connections: dict[int, set[Connection]] = defaultdict(set)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.last_id: str | None = None
        """The last events entry handled: a restarted ``run`` reads on from it."""

    def _first_time(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > SEEN_KEYS:
            self._seen.popitem(last=False)
        return True

    def dispatch(
        self, event: DialogEvent | MessageEvent | ReminderEvent, entry_id: str | None = None
    ) -> int:
        """Push one event to its connected recipients; returns how many frames were queued.

        ``entry_id`` is the event's id in the events stream: frames carry it as ``stream_id``
        so that a reconnecting browser can ask for what came after it.
        """
        if not self._first_time(event.key):
            return 0
        frame = event_frame(event, entry_id)
        queued = 0
        for operator_id in event.recipients:
            for conn in list(self.connections.get(operator_id, ())):
                if conn.push(frame):
                    queued += 1
                else:
                    log.warning(
                        "operator %d's socket fell behind; closing it to resync", operator_id
                    )
                    asyncio.get_running_loop().create_task(
                        conn.ws.close(code=4008, message=b"resync")
                    )
        return queued

    async def run(self) -> None:
        """Tail the events stream until cancelled."""
        async for entry_id, event in self.bus.tail(streams.EVENTS, after=self.last_id):
            if isinstance(event, DialogEvent | MessageEvent | ReminderEvent):
                self.dispatch(event, entry_id)
            self.last_id = entry_id

    async def catch_up(self, conn: Connection, after: str) -> bool:
        """Queue the operator's events of the stream after ``after``, up to what this hub has
        dispatched; False when some are gone from the stream (the client reloads from the
        database, which it does after every reconnect anyway).

        The caller registers the connection right after, with no await in between, so the
        events dispatched from then on are the ones after those queued here.
        """
        oldest: Any = await self.bus.redis.xrange(streams.EVENTS, count=1)
        # Entries older than the stream's oldest may have been trimmed: resumed only if not.
        complete = bool(oldest) and _id_key(_text(oldest[0][0])) <= _id_key(after)
        while self.last_id is not None and _id_key(self.last_id) > _id_key(after):
            upto = self.last_id
            async for entry_id, event in self.bus.range(streams.EVENTS, after, upto):
                if not isinstance(event, DialogEvent | MessageEvent | ReminderEvent):
                    continue
                if conn.operator_id in event.recipients:
                    conn.push(event_frame(event, entry_id))
            after = upto
        return complete

    async def close(self) -> None:
        """Close every operator socket."""
        for group in list(self.connections.values()):
            for conn in list(group):
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=1001, message=b"server shutting down")


def event_frame(
    event: DialogEvent | MessageEvent | ReminderEvent, entry_id: str | None
) -> dict[str, Any]:
    """The socket frame of one event."""
    frame: dict[str, Any]
    if isinstance(event, DialogEvent):
        frame = {"type": "dialog", "dialog": event.dialog.model_dump(mode="json")}
    elif isinstance(event, ReminderEvent):
        frame = {**event.model_dump(mode="json", exclude={"recipients"}), "type": "reminder"}
    else:
        frame = {"type": "message", "message": event.message.model_dump(mode="json")}
    if entry_id is not None:
        frame["stream_id"] = entry_id
    return frame


def stream_id(text: str) -> str | None:
    """A stream entry id (``ms-seq``, each part within 64 bits) from a client, else None."""
    ms, dash, seq = text.partition("-")
    if not (dash and ms.isascii() and ms.isdigit() and seq.isascii() and seq.isdigit()):
        return None
    if int(ms) >= 2**64 or int(seq) >= 2**64:
        return None
    return f"{int(ms)}-{int(seq)}"


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _dash, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


HUB = web.AppKey("hub", OperatorHub)
"""The console's live fan-out of this process."""


async def operator_socket(request: web.Request) -> web.StreamResponse:
    """GET /api/ws: the operator's live feed (the session middleware has checked the cookie)."""
    operator = request[OPERATOR]
    hub = request.app[HUB]
    ws = web.WebSocketResponse(compress=False, heartbeat=HEARTBEAT_S * 2, max_msg_size=4096)
    await ws.prepare(request)
    conn = Connection(operator.id, ws)
    hello: dict[str, Any] = {"type": "hello", "operator": operator_json(operator)}
    conn.push(hello)
    after = stream_id(request.query.get("after", ""))
    hello["resumed"] = await hub.catch_up(conn, after) if after else False
    hub.connections[operator.id].add(conn)
    pump = asyncio.create_task(conn.pump())
    try:
        async for msg in ws:
            # The browser only listens; anything it sends is ignored, and closing ends the loop.
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
        group = hub.connections.get(operator.id)
        if group is not None:
            group.discard(conn)
            if not group:
                del hub.connections[operator.id]
    return ws
