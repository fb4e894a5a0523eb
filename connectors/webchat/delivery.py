"""Live delivery to the visitors' sockets open on this process, fed by the ``out.webchat`` tail.

A message is pushed once per process: delivery on the bus is at least once (the router may
publish a message again when the batch that stored it is handled again after a fault), so a
message id already pushed is dropped, as the console's fan-out drops an event key it has seen.

A socket whose ``welcome`` is not out yet holds the frames pushed to it meanwhile: it was
registered before its history was read from the database, so that nothing stored meanwhile is
missed, and gets those frames after the welcome, less the ones the history already showed. A
message can also be in the history before its entry reaches the tail (the router stores, then
publishes; more so while Redis is away), so a socket never gets a message its welcome showed.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from connectors.filelinks import FileLinks
from connectors.webchat.render import outbound_frame
from core import frames
from core.envelope import Outbound, OutboundMessage

SEEN_KEYS = 50_000
"""Outbound keys remembered for dropping repeats: far more than a fault can repeat."""

Sockets = dict[tuple[int, str], set[web.WebSocketResponse]]


class VisitorDelivery:
    """The open visitor sockets of this process and what is pushed to them."""

    def __init__(self, links: Callable[[], FileLinks]) -> None:
        self.sockets: Sockets = defaultdict(set)
        """Open sockets by (channel id, visitor id)."""
        self.links = links
        self._joining: dict[web.WebSocketResponse, list[dict[str, Any]]] = {}
        self._shown: dict[web.WebSocketResponse, set[int]] = {}
        """The message ids each socket's welcome showed."""
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, outbound: Outbound) -> bool:
        """False for an entry whose message (or closing) was pushed before."""
        if isinstance(outbound, OutboundMessage):
            key = f"message:{outbound.message_id}"
        else:
            key = f"closed:{outbound.dialog_id}"
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > SEEN_KEYS:
            self._seen.popitem(last=False)
        return True

    async def push(self, outbound: Outbound) -> bool:
        """Push one outbound entry to the visitor's open sockets, if any; True when one
        of them got it (or will, after its welcome)."""
        if isinstance(outbound, OutboundMessage):
            frame = outbound_frame(outbound, self.links())
        else:
            frame = {"type": "closed", "dialog_id": outbound.dialog_id, "rating": outbound.rating}
        reached = False
        for ws in list(self.sockets.get((outbound.channel_id, outbound.external_user_id), ())):
            held = self._joining.get(ws)
            if held is not None:
                held.append(frame)  # sent after the welcome, unless its history shows it
                reached = True
                continue
            if frame["type"] == "message" and frame["id"] in self._shown.get(ws, ()):
                reached = True  # the welcome showed it already
                continue
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json(frame, dumps=frames.dumps)
                reached = True
        return reached

    def join(self, key: tuple[int, str], ws: web.WebSocketResponse) -> None:
        """Register a socket whose welcome is on its way: pushes to it wait for ``welcomed``."""
        self._joining[ws] = []
        self.sockets[key].add(ws)

    async def welcomed(self, ws: web.WebSocketResponse, shown: set[int]) -> None:
        """The welcome is out: send the frames held meanwhile, less the messages it showed."""
        if shown:
            self._shown[ws] = shown
        held = self._joining.get(ws)
        while held:
            frame = held.pop(0)
            if frame.get("type") == "message" and frame.get("id") in shown:
                continue
            await ws.send_json(frame, dumps=frames.dumps)
        self._joining.pop(ws, None)

    def leave(self, key: tuple[int, str], ws: web.WebSocketResponse) -> None:
        """Forget a closed socket."""
        self._joining.pop(ws, None)
        self._shown.pop(ws, None)
        group = self.sockets.get(key)
        if group is not None:
            group.discard(ws)
            if not group:
                del self.sockets[key]
