"""The operator socket, ``GET /api/ws``: the live feed of ``live.OperatorHub`` one way, and
the browser's activity and replies the other.

A reply sent over the socket is the same as ``POST /api/dialogs/{id}/messages`` (``queue_reply``)
without a request of its own: no HTTP parsing, no middleware chain, no new connection, so it
costs the hub less and reaches the router sooner. What the middlewares check for a request is
checked here for each reply frame: the session still lives (a logout elsewhere ends it), the
role may change things, and the socket was opened from one of our own pages (``_foreign_origin``
at the handshake), so a page of another site cannot send through a socket it opened with the
operator's cookie. Each reply frame is
answered with ``reply_accepted`` or ``reply_refused`` (the status and reason the POST would
have given), by its ``client_msg_id``; a browser whose socket drops before the answer posts the
reply instead, and the router stores a ``client_msg_id`` once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable
from typing import Any, Literal

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import ValidationError

from core.app_keys import SESSIONS
from core.db.schema import Operator
from core.limits import MAX_JSON_BYTES, InputError, RowId, loads_limited
from core.outage import REDIS_DOWN
from core.roles import READ_ONLY_ROLES
from core.socket_end import abort_if_unread
from operator_console.api import ReplyBody, queue_reply
from operator_console.auth import COOKIE, SESSION_CACHE, refusal_reason
from operator_console.bodies import field_problem
from operator_console.csrf import check_same_origin
from operator_console.keys import OPERATOR
from operator_console.live import (
    HEARTBEAT_S,
    HUB,
    ROLE_CHANGED,
    SESSION_ENDED,
    Connection,
    Ending,
    OperatorHub,
    stream_id,
    takes_lists,
)
from operator_console.live_replay import missed_since
from operator_console.views import operator_json

log = logging.getLogger(__name__)

ACTIVITY_FRAME = '{"type":"activity"}'
"""What the browser sends, at most once a minute, while the operator is using the console."""
FRAME_BYTES = MAX_JSON_BYTES
"""The largest frame a browser may send: a reply as long as ``POST`` takes (the API's limit on
text, with its files); a bigger one closes the socket (1009), and the browser posts instead."""


class ReplyFrame(ReplyBody):
    """``{"type": "reply", "dialog_id": …}`` with the fields of the POST's body."""

    type: Literal["reply"]
    dialog_id: RowId


async def _greet(request: web.Request, conn: Connection) -> None:
    """Queue the hello and, for a socket that names the last event it saw, what it missed."""
    operator = request[OPERATOR]
    hub = request.app[HUB]
    # An event this hub dispatches while the row is read reaches neither the hello (read
    # before it was written) nor the socket (not registered yet): from ``mark`` on, the
    # events are queued again from the stream after the hello.
    mark = hub.last_id
    # The session cache may hold an old row; the hello shows the presence the router holds now.
    async with request.app[SESSIONS]() as session:
        current = await session.get(Operator, operator.id) or operator
    hello: dict[str, Any] = {"type": "hello", "operator": operator_json(current)}
    conn.push(hello)
    after = stream_id(request.query.get("after", ""))
    hello["resumed"] = False
    if after:
        missed = functools.partial(missed_since, request.app[SESSIONS], current)
        hello["resumed"] = await hub.catch_up(conn, after, missed)
    elif mark is not None:
        await hub.queue_dispatched(conn, mark)


async def _redis_optional(step: Awaitable[None], what: str, operator_id: int) -> None:
    """Run a presence step that a Redis outage may cost, without a traceback for it."""
    try:
        await step
    except REDIS_DOWN as exc:
        log.warning("could not %s operator %d's socket while Redis is away: %s",
                    what, operator_id, exc)  # fmt: skip
    except Exception:
        log.exception("could not %s operator %d's socket", what, operator_id)


async def operator_socket(request: web.Request) -> web.StreamResponse:
    """GET /api/ws: the operator's live feed (the session middleware has checked the cookie).

    With ``?batch=1`` each message is a list of frames: all that were queued when it went out."""
    foreign = _foreign_origin(request)
    if foreign is not None:
        return web.json_response({"error": foreign}, status=403)
    batched = takes_lists(request)
    operator = request[OPERATOR]
    hub = request.app[HUB]
    ws = web.WebSocketResponse(compress=False, heartbeat=HEARTBEAT_S * 2, max_msg_size=FRAME_BYTES)
    await ws.prepare(request)
    conn = Connection(operator.id, ws, operator.role, batched=batched)
    conn.transport = request.transport
    try:
        await _greet(request, conn)
    except REDIS_DOWN as exc:
        # The catch-up cannot be read while Redis is away; the browser comes back shortly.
        log.info("operator %d's socket refused while Redis is away: %s", operator.id, exc)
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"redis unavailable")
        abort_if_unread(conn.transport, f"operator {operator.id}'s socket")
        return ws
    # Registered right after the catch-up with no await between, so the events dispatched from
    # now on follow those queued by it; the presence this socket brings back then arrives live.
    hub.connections[operator.id].add(conn)
    sockets = hub.bus.metrics.websockets.labels("operator")
    sockets.inc()
    conn.on_heartbeat = lambda: hub.do_socket_alive(conn)
    conn.ending = functools.partial(_ending, request, conn)
    pump: asyncio.Task[None] | None = None
    answering = _Answering(request, conn)
    try:
        # Counted before the hello goes out: a client that has its hello is counted live.
        await _redis_optional(hub.do_socket_open(conn), "count", operator.id)
        pump = asyncio.create_task(conn.pump())
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
            if msg.type == WSMsgType.BINARY:
                conn.push({"type": "error", "error": "frame: JSON text, not binary"})
            elif msg.type != WSMsgType.TEXT:
                continue
            elif msg.data == ACTIVITY_FRAME:
                await _redis_optional(hub.do_activity(conn), "note activity of", operator.id)
            else:
                await answering.start(msg.data)
    finally:
        await answering.stop()
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
        sockets.dec()
        _forget_connection(hub, conn)
        abort_if_unread(conn.transport, f"operator {operator.id}'s socket")
        # Without Redis the socket expires on its own and the heartbeat's timer still fires.
        await _redis_optional(hub.do_socket_closed(conn), "release", operator.id)
    return ws


class _Answering:
    """The socket's frames being answered, each in a task of its own, as requests are.

    One after another, a socket's replies would each wait for the one before to reach the bus:
    the router would get them one at a time, in transactions of their own. Handled side by side,
    the replies of one read of the socket share a round trip to Redis and a transaction, as
    replies posted at once do. But the replies of one dialog go to the bus in the order they
    were sent, each once the one before it is there: on PostgreSQL each reply's visibility
    read waits for the server, the reads of two quick replies may end in either order, and the
    client would read "How can I help?" before "Hello". At most ``MOST`` frames at a time: a
    client that sends faster than they are answered is read no further until some are."""

    MOST = 32

    def __init__(self, request: web.Request, conn: Connection) -> None:
        self.request = request
        self.conn = conn
        self.tasks: set[asyncio.Task[None]] = set()
        self.last: dict[int, asyncio.Task[None]] = {}
        """Each dialog's latest reply still being answered."""

    async def start(self, data: str) -> None:
        """Answer a frame in a task of its own, once fewer than ``MOST`` are in flight; a
        reply after the dialog's reply before it."""
        while len(self.tasks) >= self.MOST:
            await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
        read = read_frame(data)
        if isinstance(read, dict):
            task = asyncio.create_task(self._answer(read))
        else:
            before = self.last.get(read.dialog_id)
            task = asyncio.create_task(self._answer(answer_reply(self.request, read), before))
            self.last[read.dialog_id] = task
            task.add_done_callback(functools.partial(self._done, read.dialog_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _done(self, dialog_id: int, task: asyncio.Task[None]) -> None:
        if self.last.get(dialog_id) is task:
            del self.last[dialog_id]

    async def _answer(
        self,
        answer: Awaitable[dict[str, Any]] | dict[str, Any],
        before: asyncio.Task[None] | None = None,
    ) -> None:
        if before is not None:
            await asyncio.wait([before])
        try:
            frame = answer if isinstance(answer, dict) else await answer
        except Exception:
            log.exception("could not answer operator %d's frame", self.conn.operator_id)
            frame = {"type": "error", "error": "internal error; the frame was not handled"}
        # A client that sends and does not read falls behind, and is closed, as on events.
        self.conn.push(frame)

    async def stop(self) -> None:
        """Let the frames in flight finish: a reply read before the socket closed still goes
        to the router (the browser may post it again; it is stored once)."""
        if self.tasks:
            await asyncio.wait(self.tasks)


def _forget_connection(hub: OperatorHub, conn: Connection) -> None:
    group = hub.connections.get(conn.operator_id)
    if group is not None:
        group.discard(conn)
        if not group:
            del hub.connections[conn.operator_id]


def _foreign_origin(request: web.Request) -> str | None:
    """Why a browser's handshake may not open the socket: it came from a page of another
    origin. Browsers always name the origin of a socket; a client without one holds its own
    cookie, which no foreign page can borrow. (API tokens cannot open this socket.)"""
    if "Origin" not in request.headers:
        return None
    return check_same_origin(request)


def read_frame(data: str) -> ReplyFrame | dict[str, Any]:
    """A frame the browser sent other than its activity: a valid reply, or the answer that
    says what is wrong with it (an ``error``, or a ``reply_refused`` naming the field)."""
    try:
        raw = loads_limited(data)
    except InputError as exc:
        return {"type": "error", "error": f"frame: {exc}"}
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind != "reply":
        return {"type": "error", "error": "type: the socket takes activity and reply frames"}
    try:
        return ReplyFrame.model_validate(raw)
    except ValidationError as exc:
        cmid = raw.get("client_msg_id")
        named = cmid if isinstance(cmid, str) else None
        return _refused(named, 400, field_problem(exc, whole="frame"))


async def answer_reply(request: web.Request, frame: ReplyFrame) -> dict[str, Any]:
    """Hand a reply to the router: ``reply_accepted``, or ``reply_refused`` with the status
    and reason the POST would have given."""
    named = frame.client_msg_id
    operator = await _sender(request)
    if isinstance(operator, tuple):
        return _refused(named, *operator)
    try:
        await queue_reply(request.app, operator, frame.dialog_id, frame)
    except web.HTTPException as exc:
        return _refused(named, exc.status, refusal_reason(exc))
    except REDIS_DOWN as exc:
        log.warning("reply of operator %d refused while Redis is away: %s", operator.id, exc)
        return _refused(named, 503, "the message bus (Redis) is unreachable")
    return {"type": "reply_accepted", "client_msg_id": frame.client_msg_id}


async def _session_operator(request: web.Request) -> Operator | None:
    """The socket's operator as their session shows them now; None once the session ended.

    Read through the session cache, so a check costs a lookup in this process's memory: a
    logout or a disabling here shows at once, one in another console process within the
    cache's few seconds (``auth.SessionCache``)."""
    token = request.cookies.get(COOKIE, "")
    operator = await request.app[SESSION_CACHE].operator(token) if token else None
    if operator is None or operator.id != request[OPERATOR].id:
        return None
    return operator


async def _ending(request: web.Request, conn: Connection) -> Ending | None:
    """Why the socket must close now: its session ended, or its operator's role changed."""
    operator = await _session_operator(request)
    if operator is None:
        return SESSION_ENDED, b"session ended"
    if operator.role != conn.role:
        return ROLE_CHANGED, b"role changed"
    return None


async def _sender(request: web.Request) -> Operator | tuple[int, str]:
    """Who sends a reply over this socket now, or the status and reason it is refused with:
    the session may have ended, or the operator's role changed, since the handshake."""
    operator = await _session_operator(request)
    if operator is None:
        return 401, "not logged in"
    if operator.role in READ_ONLY_ROLES:
        return 403, "your role reads statistics and changes nothing"
    return operator


def _refused(cmid: str | None, status: int, reason: str) -> dict[str, Any]:
    return {"type": "reply_refused", "client_msg_id": cmid, "status": status, "error": reason}
