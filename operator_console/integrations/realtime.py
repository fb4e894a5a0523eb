"""``GET /api/integrations/events``: the realtime API, a websocket for API tokens.

The token chooses what it may hear (``EVENT_SCOPES``); ``?events=a,b`` narrows that further.
Each frame is the event as webhooks receive it plus ``stream_id``, the entry that carried it
(``core.integration_events.carried``: at most one event per entry); a client that reconnects
with ``?after=<stream_id>`` of the last frame it handled gets what it missed, as long as the
stream still holds it (``stream_maxlen``). With ``?batch=1`` each websocket message is instead
a JSON array of the frames of one read of the stream, at most ``BATCH_MOST`` (a burst, say a
router's batch, in one message, as on the operator socket). Integrations are few, so each
socket reads the stream on its own instead of sharing the operator sockets' fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from aiohttp import WSMsgType, web

from core import streams
from core.app_keys import BUS
from core.envelope import HookEventName
from core.frames import dumps
from core.integration_events import HOOK_EVENTS, carried
from core.socket_end import abort_if_unread
from operator_console.auth import http_error
from operator_console.integrations.dispatch import event_body
from operator_console.integrations.tokens import API_TOKEN, EVENT_SCOPES
from operator_console.live import BATCH_MOST, takes_lists

STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
HEARTBEAT_S = 30.0


def _subscription(request: web.Request) -> frozenset[HookEventName]:
    """The events this socket asked for and its token may hear; 400/403 naming what is wrong."""
    grant = request.get(API_TOKEN)
    if grant is None:
        raise http_error(web.HTTPUnauthorized, "the realtime API takes an API token")
    asked = [e for e in request.query.get("events", "").split(",") if e]
    unknown = sorted(set(asked) - set(HOOK_EVENTS))
    if unknown:
        raise http_error(web.HTTPBadRequest, f"events: unknown event {unknown[0]}")
    allowed = {e for e in HOOK_EVENTS if EVENT_SCOPES[e] in grant.scopes}
    wanted = {e for e in HOOK_EVENTS if e in asked} if asked else allowed
    if not wanted <= allowed:
        denied = sorted(wanted - allowed)[0]
        raise http_error(web.HTTPForbidden, f"events: this token may not hear {denied}")
    return frozenset(wanted)


async def integration_socket(request: web.Request) -> web.StreamResponse:
    """A websocket that pushes every subscribed event as it happens."""
    wanted = _subscription(request)
    after = request.query.get("after") or None
    if after is not None and not STREAM_ID.match(after):
        raise http_error(web.HTTPBadRequest, "after: not a stream id like 1700000000000-0")
    batched = takes_lists(request)
    ws = web.WebSocketResponse(compress=False, heartbeat=HEARTBEAT_S, max_msg_size=4096)
    await ws.prepare(request)
    transport = request.transport
    await ws.send_json({"type": "ready", "events": sorted(wanted)})
    pusher = asyncio.create_task(_push(request, ws, wanted, after, batched))
    try:
        async for msg in ws:  # the client only closes; anything it says is ignored
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await pusher
        abort_if_unread(transport, "an integration's event socket")
    return ws


async def _push(
    request: web.Request,
    ws: web.WebSocketResponse,
    wanted: frozenset[HookEventName],
    after: str | None,
    batched: bool,
) -> None:
    async for read in request.app[BUS].tail_reads(streams.EVENTS, after=after):
        frames: list[dict[str, Any]] = []
        for stream_id, entry in read:
            event = carried(entry)
            if event is not None and event.event in wanted:
                frames.append({**event_body(event), "stream_id": stream_id})
        if batched:
            for start in range(0, len(frames), BATCH_MOST):
                await ws.send_str(dumps(frames[start : start + BATCH_MOST]))
            continue
        for frame in frames:
            await ws.send_str(dumps(frame))
    await ws.close()


def routes() -> list[web.AbstractRouteDef]:
    """The realtime API's route."""
    return [web.get("/api/integrations/events", integration_socket)]
