"""Typing indicators in the console: the operator's typing out to the client's channel, the
visitor's typing in to the operators who see the dialog. Throttled and never stored
(``core.typing_signals``).

``POST /api/dialogs/{id}/typing`` says the operator types in a dialog they see; the hub passes
it on at most once per throttle interval per operator and dialog (the console sends no more
often anyway). Visitor typing arrives by pub/sub and goes to the dialog's audience
(``core.audience``) as ``{"type": "typing", "dialog_id"}`` frames on their sockets.
"""

from __future__ import annotations

import time

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import typing_signals
from core.app_keys import BUS, SESSIONS
from core.audience import dialog_audience
from core.db import SessionMaker
from core.db.routing_schema import DialogParticipant, line_members
from core.db.schema import ClientIdentity, Dialog, Operator
from core.roles import SUPERVISOR_ROLES
from operator_console.api import _visible_status
from operator_console.keys import OPERATOR
from operator_console.live import OperatorHub

TYPING_THROTTLE = web.AppKey("typing_throttle", typing_signals.Throttle)
"""Per operator and dialog, for this app (a second process lets one more signal through)."""


async def operator_typing(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/typing: 204; the client sees "typing" in their widget."""
    operator = request[OPERATOR]
    seen = await _visible_status(request)
    async with request.app[SESSIONS]() as session:
        row = (
            await session.execute(
                select(ClientIdentity.channel_id, ClientIdentity.external_id)
                .join(Dialog, Dialog.identity_id == ClientIdentity.id)
                .where(Dialog.id == seen.id)
            )
        ).first()
    if row is None or seen.status == "closed":
        return web.Response(status=204)
    if request.app[TYPING_THROTTLE].allow((operator.id, seen.id), time.monotonic()):
        signal = {"channel_id": row.channel_id, "external_user_id": row.external_id,
                  "name": operator.name}  # fmt: skip
        await typing_signals.publish(request.app[BUS].redis, typing_signals.OPERATOR_TYPING, signal)
    return web.Response(status=204)


def install(app: web.Application) -> None:
    """The typing endpoint, with its own throttle: one hub's counts never hold back another's."""
    app[TYPING_THROTTLE] = typing_signals.Throttle(typing_signals.RELAY_GUARD_S)
    app.router.add_post("/api/dialogs/{dialog_id}/typing", operator_typing)


class VisitorTypingRelay:
    """Shows visitors' typing to the operators of this process who see their dialog."""

    def __init__(self, hub: OperatorHub, sessions: SessionMaker) -> None:
        self.hub = hub
        self.sessions = sessions

    async def run(self) -> None:
        """Relay until the bus closes."""
        bus = self.hub.bus
        await typing_signals.listen(
            bus.redis, typing_signals.VISITOR_TYPING, self.relay, bus.stopping
        )

    async def relay(self, signal: typing_signals.Signal) -> None:
        """Push one visitor's typing to the connected operators who see the dialog."""
        dialog_id = signal.get("dialog_id")
        if not isinstance(dialog_id, int) or not self.hub.connections:
            return
        async with self.sessions() as session:
            audience = await _audience(session, dialog_id)
        frame = {"type": "typing", "dialog_id": dialog_id, "author": "visitor"}
        for operator_id in audience:
            for conn in list(self.hub.connections.get(operator_id, ())):
                conn.push(frame)  # a full queue drops an indicator, nothing worse


async def _audience(session: AsyncSession, dialog_id: int) -> tuple[int, ...]:
    """Who sees the dialog, by the rule the router's live events follow."""
    dialog = await session.get(Dialog, dialog_id)
    if dialog is None:
        return ()
    on_line = [op for _l, op in await session.execute(line_members([dialog.line_id]))]
    participants = await session.scalars(
        select(DialogParticipant.operator_id).where(DialogParticipant.dialog_id == dialog_id)
    )
    supervisors = (await session.execute(
        select(Operator.id, Operator.role).where(Operator.role.in_(SUPERVISOR_ROLES))
    )).all()  # fmt: skip
    admins = [op for op, role in supervisors if role == "admin"]
    managers = {op for op, role in supervisors if role != "admin"}
    return dialog_audience(
        dialog.operator_id, on_line, participants, admins, [op for op in on_line if op in managers]
    )
