"""The router's writer: the only code that changes dialogs and messages.

Each handler reads what it needs, asks a pure decision function what to do, writes, and queues
its effects on the batch; ``Router.handle`` commits the batch in one transaction and publishes the
effects after the commit. Every handler is idempotent, because the bus delivers at least once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select

from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker
from core.db.schema import ClientIdentity, Dialog, LineOperator, Message, Operator
from core.envelope import (
    ClientHintsForCrm,
    CloseDialog,
    DialogClosedForCrm,
    DialogClosedNotice,
    DialogOpenedForCrm,
    InboundMessage,
    OperatorReply,
    PresenceChange,
    RouterInput,
    TimerFired,
    utcnow,
)
from router.assign import assign_waiting, do_open_dialog, try_assign
from router.batch import SUPERVISOR_ROLES, Batch

log = logging.getLogger(__name__)


class Router:
    """Handles batches from the inbound shards, the command stream and the timer stream."""

    def __init__(
        self, sessions: SessionMaker, bus: Bus, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        # Consumers of several streams share this writer; one batch at a time per process keeps
        # capacity checks and assignments consistent (SQLite has a single writer anyway).
        self._lock = asyncio.Lock()

    async def handle(self, batch: Sequence[Delivery[RouterInput]]) -> None:
        """Apply a batch in one transaction, then publish its effects."""
        async with self._lock:
            async with self.sessions() as session, session.begin():
                work = Batch(session, self.clock())
                for delivery in batch:
                    await self._dispatch(work, delivery.payload)
            await self.bus.publish_many(work.effects)

    async def _dispatch(self, work: Batch, payload: RouterInput) -> None:
        if isinstance(payload, InboundMessage):
            await do_inbound(work, payload)
        elif isinstance(payload, OperatorReply):
            await do_reply(work, payload)
        elif isinstance(payload, CloseDialog):
            await do_close(work, payload)
        elif isinstance(payload, PresenceChange):
            await do_presence(work, payload)
        elif isinstance(payload, TimerFired):
            log.info("timer %s fired with no handler yet", payload.key)


async def do_inbound(work: Batch, msg: InboundMessage) -> None:
    """Store a client's message in their open dialog, opening and assigning one if needed."""
    session = work.session
    channel = await work.channel(msg.channel_id)
    if channel is None or not channel.enabled:
        log.error(
            "inbound message %s names channel_id %d, which is unknown or disabled; dropped",
            msg.external_message_id,
            msg.channel_id,
        )
        return
    seen = await session.scalar(
        select(Message).where(
            Message.channel_id == channel.id, Message.external_id == msg.external_message_id
        )
    )
    identity = await session.scalar(
        select(ClientIdentity).where(
            ClientIdentity.channel_id == channel.id,
            ClientIdentity.external_id == msg.external_user_id,
        )
    )
    if seen is not None and identity is not None:
        # Delivered again (a retry, or a crash between commit and ack): store nothing, but
        # announce again in case the first announcement never left. Consumers drop repeats.
        dialog = await session.get(Dialog, seen.dialog_id)
        assert dialog is not None
        await work.announce_message(dialog, seen)
        if channel.kind == "webchat":
            await work.deliver(dialog, seen, identity.external_id)
        return
    dialog, opened = await do_open_dialog(work, channel, msg, identity)
    message = Message(
        dialog_id=dialog.id,
        channel_id=channel.id,
        author="client",
        author_name=msg.client_name,
        text=msg.text,
        attachments=[a.model_dump() for a in msg.attachments],
        external_id=msg.external_message_id,
        client_msg_id=msg.client_msg_id,
        created_at=work.now,
    )
    session.add(message)
    dialog.last_message_at = work.now
    await session.flush()
    if not msg.hints.is_empty():
        work.emit(
            streams.CRM,
            ClientHintsForCrm(
                client_id=dialog.client_id,
                identity_id=dialog.identity_id,
                channel_id=channel.id,
                dialog_id=dialog.id,
                hints=msg.hints,
            ),
        )
    if opened:
        work.emit(
            streams.CRM,
            DialogOpenedForCrm(
                dialog_id=dialog.id, client_id=dialog.client_id, line_id=dialog.line_id
            ),
        )
        await try_assign(work, dialog)
        await work.announce_dialog(dialog, message)
    await work.announce_message(dialog, message)
    if channel.kind == "webchat":
        # The web chat shows the visitor their own message once it is stored, with its id.
        await work.deliver(dialog, message, msg.external_user_id)


async def do_reply(work: Batch, cmd: OperatorReply) -> None:
    """Store an operator's reply and hand it to the channel."""
    session = work.session
    dialog = await session.get(Dialog, cmd.dialog_id)
    operator = await session.get(Operator, cmd.operator_id)
    if dialog is None or operator is None:
        log.error(
            "reply %s names dialog %d or operator %d that does not exist; dropped",
            cmd.client_msg_id,
            cmd.dialog_id,
            cmd.operator_id,
        )
        return
    identity = await session.get(ClientIdentity, dialog.identity_id)
    assert identity is not None
    seen = await session.scalar(
        select(Message).where(
            Message.dialog_id == dialog.id, Message.client_msg_id == cmd.client_msg_id
        )
    )
    if seen is not None:
        await work.announce_message(dialog, seen)
        await work.deliver(dialog, seen, identity.external_id)
        return
    if dialog.status == "closed":
        log.warning("reply %s to closed dialog %d; dropped", cmd.client_msg_id, dialog.id)
        return
    is_supervisor = operator.role in SUPERVISOR_ROLES
    if dialog.operator_id not in (None, operator.id) and not is_supervisor:
        log.warning("operator %d may not reply in dialog %d; dropped", operator.id, dialog.id)
        return
    changed = False
    if dialog.operator_id is None:
        # Answering a waiting dialog takes it.
        dialog.operator_id = operator.id
        dialog.status = "open"
        dialog.assigned_at = work.now
        changed = True
    message = Message(
        dialog_id=dialog.id,
        channel_id=dialog.channel_id,
        author="operator",
        operator_id=operator.id,
        author_name=operator.name,
        text=cmd.text,
        client_msg_id=cmd.client_msg_id,
        created_at=work.now,
    )
    session.add(message)
    if dialog.first_response_at is None:
        dialog.first_response_at = work.now
    dialog.last_message_at = work.now
    await session.flush()
    if changed:
        await work.announce_dialog(dialog, message)
    await work.announce_message(dialog, message)
    await work.deliver(dialog, message, identity.external_id)


async def do_close(work: Batch, cmd: CloseDialog) -> None:
    """Close a dialog, tell the client's channel and the CRM, and give out waiting dialogs."""
    session = work.session
    dialog = await session.get(Dialog, cmd.dialog_id)
    if dialog is None:
        log.error("close names dialog %d, which does not exist; dropped", cmd.dialog_id)
        return
    if dialog.status == "closed":
        return
    dialog.status = "closed"
    dialog.closed_at = work.now
    dialog.closed_by = "operator" if cmd.operator_id is not None else "client"
    await session.flush()
    identity = await session.get(ClientIdentity, dialog.identity_id)
    assert identity is not None
    await work.announce_dialog(dialog)
    channel = await work.channel(dialog.channel_id)
    assert channel is not None
    work.emit(
        streams.outbound(channel.kind),
        DialogClosedNotice(
            dialog_id=dialog.id, channel_id=dialog.channel_id, external_user_id=identity.external_id
        ),
    )
    work.emit(streams.CRM, DialogClosedForCrm(dialog_id=dialog.id, client_id=dialog.client_id))
    # The operator has room for one more now.
    await assign_waiting(work, dialog.line_id)


async def do_presence(work: Batch, cmd: PresenceChange) -> None:
    """Record an operator's presence; one who comes online takes waiting dialogs."""
    operator = await work.session.get(Operator, cmd.operator_id)
    if operator is None:
        log.error("presence names operator %d, which does not exist; dropped", cmd.operator_id)
        return
    operator.status = cmd.status
    await work.session.flush()
    if cmd.status == "online":
        for line_id in await _lines_of(work, operator.id):
            await assign_waiting(work, line_id)


async def _lines_of(work: Batch, operator_id: int) -> list[int]:
    rows = await work.session.scalars(
        select(LineOperator.line_id).where(LineOperator.operator_id == operator_id)
    )
    return list(rows)
