"""Live delivery to the visitors' sockets open on this process, fed by the ``out.webchat`` tail.

A message is pushed once per process: delivery on the bus is at least once (the router may
publish a message again when the batch that stored it is handled again after a fault), so a
message id already pushed is dropped, as the console's fan-out drops an event key it has seen.

A socket whose ``welcome`` is not out yet holds the frames pushed to it meanwhile: it was
registered before its history was read from the database, so that nothing stored meanwhile is
missed, and gets those frames after the welcome, less the ones the history already showed. A
message can also be in the history before its entry reaches the tail (the router stores, then
publishes; more so while Redis is away), so a socket never gets a message its welcome showed.

Every process pushes the whole stream to its sockets one after another, so a push never waits
for a visitor to read: a widget that stops reading (or whose network died) would hold up every
other visitor's answers. A socket that holds more than ``BEHIND_BYTES`` unsent is dropped
instead; the widget reconnects and reads back what it missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any

from connectors.filelinks import FileLinks
from connectors.webchat.link import VisitorLink
from connectors.webchat.render import outbound_frame
from core import frames
from core.envelope import Outbound, OutboundMessage

log = logging.getLogger(__name__)

BEHIND_BYTES = 256 * 1024
"""What a visitor's socket may hold unsent beyond the kernel's buffers when a push comes, at
most: far more than a burst of answers to a widget that reads. Its connection waits for the
client only above twice that (its write buffer's high-water mark), which a push below this,
of one frame (a few KB), never reaches: so a push never waits. The socket's own answers to
its visitor's frames do wait there, which stops reading from a client that sends and does
not read."""

SEEN_KEYS = 50_000
"""Outbound keys remembered for dropping repeats: far more than a fault can repeat."""

Sockets = dict[tuple[int, str], set[VisitorLink]]


class VisitorDelivery:
    """The open visitor sockets of this process and what is pushed to them."""

    def __init__(self, links: Callable[[], FileLinks]) -> None:
        self.sockets: Sockets = defaultdict(set)
        """Open sockets by (channel id, visitor id)."""
        self.links = links
        self._joining: dict[VisitorLink, list[dict[str, Any]]] = {}
        self._shown: dict[VisitorLink, set[int]] = {}
        """The message ids each socket's welcome showed."""
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._transports: dict[VisitorLink, asyncio.Transport] = {}
        """Each socket's connection: how much it holds unsent, and dropped when too much."""

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
            reached = await self.send(ws, frame) or reached
        return reached

    async def send(self, ws: VisitorLink, frame: dict[str, Any]) -> bool:
        """Send a frame the visitor did not ask for (an answer, a typing signal) without
        waiting for them: False when the socket is closed, or dropped as ``BEHIND_BYTES``
        behind."""
        if self._behind(ws):
            return False
        try:
            await ws.send_json(frame, dumps=frames.dumps)
        except (ConnectionError, RuntimeError):
            return False
        return True

    def join(self, key: tuple[int, str], ws: VisitorLink) -> None:
        """Register a socket whose welcome is on its way: pushes to it wait for ``welcomed``."""
        self._joining[ws] = []
        self.sockets[key].add(ws)

    def watch(self, ws: VisitorLink, transport: asyncio.Transport | None) -> None:
        """Drop the socket's connection if it falls ``BEHIND_BYTES`` behind (until ``unwatch``)."""
        if transport is not None:
            transport.set_write_buffer_limits(high=2 * BEHIND_BYTES)
            self._transports[ws] = transport

    def unwatch(self, ws: VisitorLink) -> None:
        """Forget a closed socket's connection."""
        self._transports.pop(ws, None)

    def _behind(self, ws: VisitorLink) -> bool:
        """Whether the socket holds too much unsent; if so, its connection is dropped."""
        transport = self._transports.get(ws)
        if transport is None:
            return False
        if transport.is_closing():
            return True  # dropped already, or closing: its handler forgets it shortly
        if (unsent := transport.get_write_buffer_size()) <= BEHIND_BYTES:
            return False
        log.warning("a visitor's socket holds %d bytes its widget has not read; dropping it",
                    unsent)  # fmt: skip
        transport.abort()
        return True

    async def welcomed(self, ws: VisitorLink, shown: set[int]) -> None:
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

    def leave(self, key: tuple[int, str], ws: VisitorLink) -> None:
        """Forget a closed socket."""
        self._joining.pop(ws, None)
        self._shown.pop(ws, None)
        group = self.sockets.get(key)
        if group is not None:
            group.discard(ws)
            if not group:
                del self.sockets[key]
