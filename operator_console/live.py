"""Operator websockets: each connection has its own queue, monotonic event ids and a heartbeat.

Every console process tails the ``events`` stream and pushes each event to the connected
operators the producer listed as recipients. Delivery is at least once on the bus, so events
carry a stable key and a repeat is dropped here. A connection whose queue overflows is closed
(``RESYNC``): the browser reconnects and reloads from the database, which is always the truth. A
client that reads nothing at all cannot take even the close, so after ``CLOSE_WAIT_S`` its
connection is dropped: a stalled tab never holds the others up, nor the hub's memory.

Where the router runs in the same process and is not busy, it hands the console a batch's
events as soon as the batch is committed (``OperatorHub.dispatch_committed``), before they are
published: the operators here see a message without waiting for the round trip through the
stream. The stream's copy of each such event is then sent only to the sockets that did not get
it early (one that connected meanwhile); every other console process hears it from the stream
as before. The router is the only producer of dialog and message events and commits one batch
at a time, and its events go early only once this hub has read all it published before them,
so frames keep the order the stream gives them.

Each socket also counts towards its operator's presence (``core.presence``): it is touched in
Redis on open and on every heartbeat, and released on close; the presence timer is re-armed
each time, so the router takes the operator offline once the last socket has been gone for the
grace period, even when this process dies without closing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import socket
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from core import frames, streams
from core.bus import Bus
from core.bus_tail import newest_id
from core.envelope import (
    DeliveryEvent,
    DialogEvent,
    MessageEvent,
    PresenceChange,
    PresenceEvent,
    ReminderEvent,
    WebhookDeliveryEvent,
    utcnow,
)
from core.outage import REDIS_DOWN
from core.presence import ConsoleSockets, arm_auto_away, arm_grace
from core.timers import Timers
from operator_console.auth import http_error
from operator_console.live_replay import Replay

log = logging.getLogger(__name__)

MissedSince = Callable[[str], Awaitable[Replay]]
"""Rebuilds from the database what an operator missed since a stream id (``live_replay``)."""

LiveEvent = (
    DialogEvent
    | MessageEvent
    | DeliveryEvent
    | ReminderEvent
    | PresenceEvent
    | WebhookDeliveryEvent
)
LIVE_EVENTS = (
    DialogEvent,
    MessageEvent,
    DeliveryEvent,
    ReminderEvent,
    PresenceEvent,
    WebhookDeliveryEvent,
)
"""What the events stream carries to operator sockets."""

QUEUE_LIMIT = 1000
HEARTBEAT_S = 20.0
SEEN_KEYS = 50_000
EARLY_KEYS = 5_000
"""Events a socket got at their commit whose stream copy is still to come, at most: the stream
is read within milliseconds, so only a stalled reader gets near it (its copy is then sent too)."""
SESSION_ENDED = 4001
"""The close code of a socket whose session ended (a logout, its expiry, the operator
disabled): the browser then asks ``/api/me``, gets 401 and shows the login screen."""
ROLE_CHANGED = 4003
"""The close code of a socket whose operator's role changed since it opened: the frames a
socket gets follow the role it opened with (the live load, webhook deliveries), so the browser
opens a new one."""

RESYNC = 4008
"""The close code of a socket that fell ``QUEUE_LIMIT`` frames behind: the browser reconnects
and reloads from the database what it missed."""
CLOSE_WAIT_S = 5.0
"""How long a socket's close may wait for its client to read the frames before it and the close
itself; then the connection is dropped (a client that reads nothing would hold it forever)."""
CATCH_UP_MOST = QUEUE_LIMIT // 2
"""Frames a reconnecting socket is sent of what it missed, its hello included, at most: the rest
of the queue is left for the live frames meanwhile. The console reads its lists from the
database on every hello, so a longer absence loses nothing there; its hello then says
``resumed: false``."""

Ending = tuple[int, bytes]
"""Why a socket must close: its close code and message."""
BATCH_MOST = 200
"""Frames one websocket message carries at most on a socket that takes them in lists
(``Connection.batched``): a supervisor's socket gets a router batch's frames together, and one
message each would cost the hub a write and the browser a task per frame."""


def takes_lists(request: web.Request) -> bool:
    """Whether a socket's client asked for its frames in lists (``?batch=1``); 400 naming the
    parameter for anything but 0 or 1."""
    batch = request.query.get("batch", "0")
    if batch not in ("0", "1"):
        raise http_error(web.HTTPBadRequest, "batch: 0 or 1")
    return batch == "1"


ADMIT_S = 1.0
"""How often a busy socket asks whether its session still lives. Each frame would cost a few
microseconds for an answer that changes once a session; the session cache's own seconds
(``auth.SessionCache``) are the longer delay for a logout in another process."""
SOCKET_TTL = timedelta(seconds=HEARTBEAT_S * 3)
"""How long a socket counts as live after its last heartbeat: a console process that died is
noticed within this, plus the grace."""


_CLOSING: set[asyncio.Task[None]] = set()
"""Closes under way (``Connection.close_soon``), held so that none is collected unfinished."""


class _Copy(enum.Enum):
    """Which copy of an event is being dispatched."""

    EARLY = "at its commit, from the router of this process"
    STREAM = "from the stream, the only copy"
    STREAM_AFTER_EARLY = "from the stream, after the early one"


def _remember(keys: OrderedDict[str, None], key: str, most: int) -> None:
    """Add ``key``, forgetting the oldest beyond ``most``."""
    keys[key] = None
    if len(keys) > most:
        keys.popitem(last=False)


def _forget(keys: OrderedDict[str, None], key: str) -> bool:
    """Drop ``key``; whether it was there."""
    if key not in keys:
        return False
    del keys[key]
    return True


class _Frame:
    """An event's socket frame, built when the first socket needs it: with the early copies
    given out, the stream's copy may need none."""

    def __init__(self, event: LiveEvent, entry_id: str | None) -> None:
        self.event = event
        self.entry_id = entry_id
        self._plain: dict[str, Any] | None = None

    def plain(self) -> dict[str, Any]:
        if self._plain is None:
            self._plain = event_frame(self.event, self.entry_id)
        return self._plain

    def gone(self) -> dict[str, Any]:
        """The frame for those who just lost sight of the dialog: it leaves their list."""
        return {**self.plain(), "gone": True}


class Connection:
    """One operator browser tab."""

    def __init__(
        self,
        operator_id: int,
        ws: web.WebSocketResponse,
        role: str = "operator",
        batched: bool = False,
    ) -> None:
        self.operator_id = operator_id
        self.role = role
        """The operator's role when the socket opened: who gets the supervisors' frames."""
        self.ws = ws
        self.batched = batched
        """Whether each websocket message is a list of the frames queued by then (``?batch=1``)
        instead of one frame."""
        self.socket_id = uuid.uuid4().hex
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self.event_id = 0
        self.replayed: set[str] = set()
        """Keys of events this socket got on connect, from the database or the stream: never
        sent again (the stream may hold an event twice after a fault; the key says so)."""
        self.early: OrderedDict[str, None] = OrderedDict()
        """Keys of events this socket got from the router of this process at their commit: their
        copy from the stream is not sent again."""
        self.on_heartbeat: Callable[[], Awaitable[None]] | None = None
        """Called once per heartbeat period: keeps the socket counted as live."""
        self.ending: Callable[[], Awaitable[Ending | None]] | None = None
        """Why the socket must close now (its session ended, its operator's role changed), or
        None; asked as a frame goes out (the heartbeat's ping too), at most once per
        ``ADMIT_S`` unless ``recheck`` is set."""
        self.recheck = False
        """Set when this process ended one of the operator's sessions or changed their role:
        the next frame asks."""
        self.transport: asyncio.Transport | None = None
        """The socket's connection: dropped when a close cannot get through (``close``)."""
        self.closing = False
        """Set once the socket is being closed: nothing more is queued for it."""

    def got_early(self, key: str) -> None:
        """Note an event this socket got at its commit, before its copy in the stream."""
        _remember(self.early, key, EARLY_KEYS)

    def had_early(self, key: str) -> bool:
        """Whether this socket got the event at its commit; forgotten now, as its stream copy
        is in."""
        return _forget(self.early, key)

    def push(self, frame: dict[str, Any]) -> bool:
        """Queue a frame; False when the socket is closing, or has just fallen too far behind
        and closes now (``RESYNC``): a frame it missed is read back from the database."""
        if self.closing:
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("operator %d's socket fell behind; closing it to resync", self.operator_id)
            self.close_soon(RESYNC, b"resync")
            return False
        return True

    def close_soon(self, code: int, message: bytes) -> None:
        """Start closing the socket (``close``) in a task of its own; once."""
        if self.closing:
            return
        self.closing = True
        task = asyncio.get_running_loop().create_task(self.close(code, message))
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)

    async def close(self, code: int, message: bytes) -> None:
        """Close the socket with ``code``. The frames already written and the close reach a
        client that reads them within ``CLOSE_WAIT_S``; one that does not is cut off."""
        self.closing = True
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self.ws.close(code=code, message=message)
        except TimeoutError:
            log.warning("operator %d's socket read nothing for %.0f s; dropping the connection",
                        self.operator_id, CLOSE_WAIT_S)  # fmt: skip
            if self.transport is not None:
                self.transport.abort()

    async def pump(self) -> None:
        """Send queued frames with their event ids (on a ``batched`` socket, all queued by then
        in one message), a ping when idle, and keep the socket counted as live once per
        heartbeat, busy or not."""
        loop = asyncio.get_running_loop()
        refreshed = loop.time()
        admitted = -ADMIT_S  # the first frame is checked
        corked = False
        while True:
            try:
                # A frame already queued needs no timer (a batch's events come several at once).
                frame = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    # Not ``wait_for``: it runs the get in a task of its own, two more turns of
                    # the loop between an event and its frame.
                    async with asyncio.timeout(HEARTBEAT_S):
                        frame = await self.queue.get()
                except TimeoutError:
                    frame = {"type": "ping"}
            now = loop.time()
            if self.ending is not None and (self.recheck or now - admitted >= ADMIT_S):
                self.recheck, admitted = False, now
                ending = await self.ending()
                if ending is not None:
                    # Not one more frame to a browser whose operator logged out, was disabled
                    # or now has another role.
                    await self.close(*ending)
                    return
            if self.on_heartbeat is not None and now - refreshed >= HEARTBEAT_S:
                refreshed = now
                try:
                    await self.on_heartbeat()
                except Exception:
                    log.exception("could not refresh operator %d's socket", self.operator_id)
            if self.batched:
                data = frames.dumps(self._numbered([frame, *self._queued(BATCH_MOST - 1)]))
            else:
                data = frames.dumps(self._numbered([frame])[0])
            if not corked and not self.queue.empty():
                corked = cork(self.transport, True)
            await self.ws.send_str(data)
            if corked and self.queue.empty():
                corked = cork(self.transport, False)

    def _queued(self, most: int) -> list[dict[str, Any]]:
        """Up to ``most`` frames queued by now, without waiting."""
        taken: list[dict[str, Any]] = []
        while len(taken) < most and not self.queue.empty():
            taken.append(self.queue.get_nowait())
        return taken

    def _numbered(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The frames with their event ids, one more each."""
        numbered = []
        for frame in batch:
            self.event_id += 1
            numbered.append({**frame, "event_id": self.event_id})
        return numbered


def cork(transport: asyncio.BaseTransport | None, on: bool) -> bool:
    """Hold back (``on``) or let go the frames written to a socket's TCP connection; whether it
    is held back now.

    A batch's events reach a socket several at once, each its own frame and its own write. Held
    back, the writes only fill the connection's buffer, and letting go sends them together: a
    write on loopback otherwise runs the receiving side's TCP as well, and wakes the reader once
    a frame. Where the option is missing (not TCP, not Linux) frames go one by one as before."""
    option = getattr(socket, "TCP_CORK", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if option is None or sock is None:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, option, int(on))
    except OSError:
        return False
    return on


class OperatorHub:
    """The connected operators of this process, and the fan-out from the events stream."""

    def __init__(
        self,
        bus: Bus,
        grace: timedelta = timedelta(seconds=60),
        auto_away: timedelta | None = None,
    ) -> None:
        self.bus = bus
        self.grace = grace
        self.auto_away = auto_away
        self.sockets = ConsoleSockets(bus.redis, SOCKET_TTL)
        self.timers = Timers(bus.redis)
        self.connections: dict[int, set[Connection]] = defaultdict(set)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._early: OrderedDict[str, None] = OrderedDict()
        """Keys of events dispatched at their commit whose stream copy has not been read yet."""
        self._resume: dict[Connection, str] = {}
        """Sockets whose last event in the read at hand came early, with its entry id."""
        self.last_id: str | None = None
        """The last events entry handled: a restarted ``run`` reads on from it."""
        self.listeners: list[Callable[[LiveEvent], None]] = []
        """Told of every event after it is dispatched (the live load notes what changes it)."""

    def recheck_sessions(self, operator_id: int) -> None:
        """Have the operator's sockets in this process ask at once whether they may go on (a
        ping each, checked as it goes out): after a logout, a disabling or a change of role
        here, a socket that may not closes now instead of at its next frame."""
        for conn in list(self.connections.get(operator_id, ())):
            conn.recheck = True
            conn.push({"type": "ping"})

    async def do_socket_alive(self, conn: Connection) -> None:
        """Count the socket as live for another ttl, and move the grace past its expiry."""
        now = utcnow()
        await self.sockets.touch(conn.operator_id, conn.socket_id, now)
        await arm_grace(self.timers, conn.operator_id, now + SOCKET_TTL + self.grace)

    async def do_socket_open(self, conn: Connection) -> None:
        """Count a new socket and bring back the presence its operator chose: an operator the
        grace took offline is online again as soon as a console of theirs reconnects."""
        await self.do_socket_alive(conn)
        if self.auto_away is not None:
            await arm_auto_away(self.timers, conn.operator_id, utcnow() + self.auto_away)
        choice = await self.sockets.choice(conn.operator_id)
        await self.bus.publish(
            streams.COMMANDS, PresenceChange(operator_id=conn.operator_id, status=choice)
        )

    async def do_activity(self, conn: Connection) -> None:
        """The operator used the console (the browser reports it, throttled): the auto-away
        timer starts over, and one whom it had made away gets the presence they chose back."""
        if self.auto_away is None:
            return
        await arm_auto_away(self.timers, conn.operator_id, utcnow() + self.auto_away)
        choice = await self.sockets.choice(conn.operator_id)
        # The router ignores a presence the operator already has, so repeating it is harmless.
        await self.bus.publish(
            streams.COMMANDS, PresenceChange(operator_id=conn.operator_id, status=choice)
        )

    async def do_socket_closed(self, conn: Connection) -> None:
        """Forget a closed socket; the grace starts now (the router decides when it ends)."""
        now = utcnow()
        await self.sockets.release(conn.operator_id, conn.socket_id, now)
        await arm_grace(self.timers, conn.operator_id, now + self.grace)

    def _first_time(self, key: str) -> bool:
        if key in self._seen:
            return False
        _remember(self._seen, key, SEEN_KEYS)
        return True

    def dispatch(self, event: LiveEvent, entry_id: str | None = None) -> int:
        """Push one event to its connected recipients; returns how many frames were queued.

        ``entry_id`` is the event's id in the events stream: frames carry it as ``stream_id``
        so that a reconnecting browser can ask for what came after it.
        """
        if not self._first_time(event.key):
            return 0
        if _forget(self._early, event.key):
            return self._deliver(event, entry_id, _Copy.STREAM_AFTER_EARLY)
        return self._deliver(event, entry_id, _Copy.STREAM)

    def dispatch_committed(self, events: Iterable[BaseModel], after: str | None = None) -> int:
        """Push the live events of a batch the router of this process has just committed,
        before they are published; returns how many frames were queued. Their frames have no
        ``stream_id`` yet: once the stream's copy is read, a ``resume`` frame tells the socket
        (``_tell_resume_points``).

        ``after`` is the last entry the router published before these: until this hub has read
        it, they are left to the stream, so that no frame overtakes an earlier one of the
        router's still on its way through the stream."""
        if after is not None and (self.last_id is None or _id_key(self.last_id) < _id_key(after)):
            return 0
        queued = 0
        for event in events:
            if not isinstance(event, LIVE_EVENTS):
                continue
            if event.key in self._seen or event.key in self._early:
                continue  # a batch run again after its publish failed: sent already
            _remember(self._early, event.key, EARLY_KEYS)
            queued += self._deliver(event, None, _Copy.EARLY)
        return queued

    def _deliver(self, event: LiveEvent, entry_id: str | None, copy: _Copy) -> int:
        first_copy = copy is not _Copy.STREAM_AFTER_EARLY
        if (
            first_copy
            and isinstance(event, MessageEvent)
            and event.message.author == "client"
            and not event.message.edits  # an edit: the message reached the console before
        ):
            waited = (utcnow() - event.message.at).total_seconds()
            self.bus.metrics.visitor_to_operator.observe(max(waited, 0.0))
        if isinstance(event, DeliveryEvent):
            return self._deliver_statuses(event, entry_id, copy)
        frame = _Frame(event, entry_id)
        if isinstance(event, DialogEvent) and event.leaving:
            # Those who just lost sight of the dialog are told so, to drop it from the list.
            staying = [op for op in event.recipients if op not in event.leaving]
            gone = self._push_all(event.leaving, frame, copy, gone=True)
            return gone + self._push_all(staying, frame, copy)
        return self._push_all(event.recipients, frame, copy)

    def _deliver_statuses(self, event: DeliveryEvent, entry_id: str | None, copy: _Copy) -> int:
        """Each connected recipient gets the changes of the dialogs it sees; those who see the
        same changes (a line's supervisors, say) share one frame."""
        audiences: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for operator_id in event.recipients:
            if operator_id in self.connections:
                seen = tuple(i for i, c in enumerate(event.changes) if operator_id in c.recipients)
                audiences[seen].append(operator_id)
        queued = 0
        for seen, operators in audiences.items():
            part = event.model_copy(update={"changes": tuple(event.changes[i] for i in seen)})
            queued += self._push_all(operators, _Frame(part, entry_id), copy)
        return queued

    def _push_all(
        self, recipients: Iterable[int], frame: _Frame, copy: _Copy, gone: bool = False
    ) -> int:
        queued = 0
        key = frame.event.key
        for operator_id in recipients:
            for conn in list(self.connections.get(operator_id, ())):
                if not gone and key in conn.replayed:
                    continue  # stored before it was announced, and replayed from there
                if copy is _Copy.EARLY:
                    conn.got_early(key)
                elif conn.had_early(key):
                    assert frame.entry_id is not None
                    self._resume[conn] = frame.entry_id  # got it at the commit
                    continue
                else:
                    self._resume.pop(conn, None)  # this frame names its own entry
                if conn.push(frame.gone() if gone else frame.plain()):
                    queued += 1
        return queued

    async def run(self) -> None:
        """Tail the events stream until cancelled."""
        if self.last_id is None:
            # Where the tail starts, known before anything is dispatched: a socket that opens
            # now reads back from here what is dispatched while its hello is read (``_greet``).
            with contextlib.suppress(*REDIS_DOWN):
                self.last_id = await newest_id(self.bus.redis, streams.EVENTS)
        async for entries in self.bus.tail_reads(streams.EVENTS, after=self.last_id):
            for entry_id, event in entries:
                if isinstance(event, LIVE_EVENTS):
                    self.dispatch(event, entry_id)
                    for listener in self.listeners:
                        listener(event)
                self.last_id = entry_id
            self._tell_resume_points()

    def _tell_resume_points(self) -> None:
        """Tell each socket whose last event of a read was one it got early where that event
        is in the stream: a reconnect asks from there (every other frame names its own)."""
        for conn, entry_id in self._resume.items():
            conn.push({"type": "resume", "stream_id": entry_id})
        self._resume.clear()

    async def catch_up(
        self, conn: Connection, after: str, missed: MissedSince | None = None
    ) -> bool:
        """Queue the operator's events after ``after``, up to what this hub has dispatched.

        When the stream no longer holds them all (trimmed, or a Redis that lost its data),
        ``missed`` rebuilds them from the database first and the stream supplies only what
        this hub dispatched meanwhile, less the messages already replayed. Returns False when
        some may be lost (no ``missed`` given, or more than ``CATCH_UP_MOST`` frames missed):
        the client then reloads from the database.

        The caller registers the connection right after, with no await in between, so the
        events dispatched from then on are the ones after those queued here.
        """
        oldest: Any = await self.bus.redis.xrange(streams.EVENTS, count=1)
        # Entries older than the stream's oldest may have been trimmed: resumed only if not.
        complete = bool(oldest) and _id_key(_text(oldest[0][0])) <= _id_key(after)
        if not complete and missed is not None:
            mark = self.last_id
            replay = await missed(after)
            if replay.frames and mark is not None:
                # The replay covers the stream up to ``mark``: a later reconnect asks from there.
                replay.frames[-1] = {**replay.frames[-1], "stream_id": mark}
            fits = replay.frames[: max(CATCH_UP_MOST - conn.queue.qsize(), 0)]
            for frame in fits:
                conn.push(frame)
            conn.replayed, complete = replay.keys, len(fits) == len(replay.frames)
            after = mark or after
        return await self.queue_dispatched(conn, after) and complete

    async def queue_dispatched(self, conn: Connection, after: str) -> bool:
        """Queue the operator's events this hub dispatched after ``after``, read back from the
        stream; False when more than ``CATCH_UP_MOST`` frames would wait, and the rest were
        left out. The caller registers the connection right after, with no await between."""
        while self.last_id is not None and _id_key(self.last_id) > _id_key(after):
            upto = self.last_id
            async for entry_id, event in self.bus.range(streams.EVENTS, after, upto):
                if not isinstance(event, LIVE_EVENTS) or event.key in conn.replayed:
                    continue
                conn.replayed.add(event.key)
                frame = event_frame(event, entry_id, conn.operator_id)
                mine = conn.operator_id in event.recipients
                gone = isinstance(event, DialogEvent) and conn.operator_id in event.leaving
                if (mine or gone) and conn.queue.qsize() >= CATCH_UP_MOST:
                    return False
                if mine:
                    conn.push(frame)
                elif gone:
                    conn.push({**frame, "gone": True})
            after = upto
        return True

    async def close(self) -> None:
        """Close every operator socket."""
        closing = [
            conn.close(1001, b"server shutting down")
            for group in self.connections.values()
            for conn in group
        ]
        # Side by side: a client that reads nothing holds its own close for ``CLOSE_WAIT_S``.
        await asyncio.gather(*closing, return_exceptions=True)


def event_frame(
    event: LiveEvent, entry_id: str | None, operator_id: int | None = None
) -> dict[str, Any]:
    """The socket frame of one event; of a ``DeliveryEvent``, the changes ``operator_id`` may
    see (all of them when None: the event given is already one recipient's part)."""
    frame: dict[str, Any]
    if isinstance(event, DeliveryEvent):
        changes = event.changes if operator_id is None else event.seen_by(operator_id)
        frame = {
            "type": "delivery",
            "changes": [c.model_dump(mode="json", exclude={"recipients"}) for c in changes],
        }
    elif isinstance(event, DialogEvent):
        frame = {"type": "dialog", "dialog": event.dialog.model_dump(mode="json")}
    elif isinstance(event, ReminderEvent):
        frame = {**event.model_dump(mode="json", exclude={"recipients"}), "type": "reminder"}
    elif isinstance(event, PresenceEvent):
        frame = {"type": "presence", "operator_id": event.operator_id, "status": event.status}
    elif isinstance(event, WebhookDeliveryEvent):
        frame = {
            "type": "webhook_delivery",
            "webhook_id": event.webhook_id,
            "delivery": event.delivery,
        }
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
