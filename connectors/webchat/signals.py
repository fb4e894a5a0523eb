"""What the web chat tells about its visitors beside their messages: that they type, that an
operator's message reached their open widget (delivered) and that the widget showed it (seen).

Typing goes through Redis pub/sub (``core.typing_signals``), never stored. Delivery reports go
on the command stream as ``DeliveryOutcome``s, those of a moment together in one
``DeliveryOutcomes`` entry (``connectors.webchat.reports``): the router, the only writer of
messages, records them and tells the operators.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence

from redis.exceptions import RedisError
from sqlalchemy import select

from connectors.context import ConnectorContext
from connectors.webchat.delivery import VisitorDelivery
from connectors.webchat.reports import GatheredReports, Writes
from core import typing_signals
from core.bus import Bus
from core.db import SessionMaker
from core.db.schema import ClientIdentity, Dialog, Message

log = logging.getLogger(__name__)

SEEN_BATCH = 100
"""Most messages one ``read`` frame marks seen (older ones were marked by earlier frames)."""


class VisitorSignals:
    """Typing both ways and read receipts of one web chat connector."""

    def __init__(self, context: ConnectorContext, delivery: VisitorDelivery) -> None:
        self.context = context
        self.delivery = delivery
        """The connector's open visitor sockets, and how a frame is pushed to them."""
        self.throttle = typing_signals.Throttle(typing_signals.RELAY_GUARD_S)

    @functools.cached_property
    def reports(self) -> GatheredReports:
        """Delivery reports, gathered for a moment before they go to the router (made on
        first use: the bus is the running hub's)."""
        return GatheredReports(self.bus, self.context.settings.webchat_report_gather_ms / 1000)

    async def close(self) -> None:
        """Send the reports that wait."""
        if "reports" in self.__dict__:
            await self.reports.close()

    @property
    def bus(self) -> Bus:
        return self.context.bus

    @property
    def sessions(self) -> SessionMaker:
        return self.context.sessions

    async def run(self) -> None:
        """Relay operators' typing to this process's visitors until the bus closes."""
        await typing_signals.listen(
            self.bus.redis, typing_signals.OPERATOR_TYPING, self.operator_typing, self.bus.stopping
        )

    async def visitor_typing(self, channel_id: int, visitor_id: str) -> None:
        """The visitor types: tell the consoles, at most once per throttle interval."""
        key = (channel_id, visitor_id)
        if not self.throttle.allow(key, time.monotonic()):
            return
        dialog_id = await self._open_dialog(channel_id, visitor_id)
        if dialog_id is None:
            # Nobody to show it to before the first message opens a dialog: the next one may.
            self.throttle.forget(key)
            return
        try:
            await typing_signals.publish(
                self.bus.redis, typing_signals.VISITOR_TYPING, {"dialog_id": dialog_id}
            )
        except (RedisError, OSError) as exc:
            log.info("typing signal lost: %s", exc)

    async def operator_typing(self, signal: typing_signals.Signal) -> None:
        """An operator types to a visitor: show it in the visitor's widgets on this process."""
        key = (int(signal.get("channel_id") or 0), str(signal.get("external_user_id") or ""))
        frame = {"type": "typing", "author_name": str(signal.get("name") or "")}
        for ws in list(self.delivery.sockets.get(key, ())):
            await self.delivery.send(ws, frame)

    async def delivered(self, message_ids: Sequence[int], now: Writes | None = None) -> None:
        """Operators' messages reached open widgets: reported within a moment
        (``GatheredReports``); ``now``'s writes are sent at once."""
        await self.reports.report(message_ids, "delivered", now)

    async def seen(self, channel_id: int, visitor_id: str, up_to: int) -> int:
        """The widget shows the visitor's messages up to ``up_to``: mark the operators' ones
        seen. Only the visitor's own dialogs count; returns how many were reported."""
        async with self.sessions() as session:
            ids = list(
                await session.scalars(
                    select(Message.id)
                    .join(Dialog, Dialog.id == Message.dialog_id)
                    .join(ClientIdentity, ClientIdentity.id == Dialog.identity_id)
                    .where(
                        ClientIdentity.channel_id == channel_id,
                        ClientIdentity.external_id == visitor_id,
                        Message.id <= up_to,
                        Message.author == "operator",
                        Message.hidden.is_(False),
                        Message.delivery_status.is_distinct_from("seen"),
                    )
                    .order_by(Message.id.desc())
                    .limit(SEEN_BATCH)
                )
            )
        await self._report_seen(ids)
        return len(ids)

    async def _report_seen(self, ids: Sequence[int]) -> None:
        await self.reports.report(ids, "seen")

    async def _open_dialog(self, channel_id: int, visitor_id: str) -> int | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(Dialog.id)
                .join(ClientIdentity, ClientIdentity.id == Dialog.identity_id)
                .where(
                    ClientIdentity.channel_id == channel_id,
                    ClientIdentity.external_id == visitor_id,
                    Dialog.status != "closed",
                )
                .order_by(Dialog.id.desc())
                .limit(1)
            )
