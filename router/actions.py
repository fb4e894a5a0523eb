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
from core.db.schema import ClientIdentity, Dialog, Message, Operator
from core.envelope import (
    ClientHintsForCrm,
    CloseDialog,
    DialogOpenedForCrm,
    HiddenNote,
    InboundMessage,
    InviteColleague,
    LeaveDialog,
    OperatorReply,
    PresenceChange,
    RateDialog,
    RouterInput,
    SkipOffer,
    TakeOffer,
    TimerFired,
    TransferDialog,
    utcnow,
)
from core.roles import SUPERVISOR_ROLES
from core.timers import Timers
from router import commands
from router.assign import do_open_dialog
from router.batch import Batch
from router.decide import decide_open, decide_take
from router.intents import ClosedBy, SetTimer
from router.lifecycle import (
    decide_close,
    decide_operator_message,
    parse_rating,
)
from router.prefetch import InboundRun
from router.routing import do_apply, load_policy, operator_states, snapshot

log = logging.getLogger(__name__)


class Router:
    """Handles batches from the inbound shards, the command stream and the timer stream."""

    def __init__(
        self, sessions: SessionMaker, bus: Bus, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.timers = Timers(bus.redis)
        # Consumers of several streams share this writer; one batch at a time per process keeps
        # capacity checks and assignments consistent (SQLite has a single writer anyway).
        self._lock = asyncio.Lock()

    async def handle(self, batch: Sequence[Delivery[RouterInput]]) -> None:
        """Apply a batch in one transaction, then publish its effects."""
        async with self._lock:
            async with self.sessions() as session, session.begin():
                work = Batch(session, self.clock())
                run: list[InboundMessage] = []
                for delivery in batch:
                    if isinstance(delivery.payload, InboundMessage):
                        run.append(delivery.payload)
                        continue
                    await do_inbound_run(work, run)
                    run = []
                    await self._dispatch(work, delivery.payload)
                await do_inbound_run(work, run)
            await self.bus.publish_many(work.effects)
            await self._set_timers(work)

    async def _set_timers(self, work: Batch) -> None:
        # After the commit, like every effect: a timer never fires for a rolled-back change.
        # Each timer's payload names the round it belongs to, so one that fires late is ignored.
        for op in work.timer_ops:
            if isinstance(op, SetTimer):
                await self.timers.schedule(op.key, op.due_at, dict(op.payload))
            else:
                await self.timers.cancel(op.key)

    async def _dispatch(self, work: Batch, payload: RouterInput) -> None:
        if isinstance(payload, InboundMessage):
            await do_inbound_run(work, [payload])
        elif isinstance(payload, OperatorReply):
            await do_reply(work, payload)
        elif isinstance(payload, CloseDialog):
            await do_close(work, payload)
        elif isinstance(payload, PresenceChange):
            await do_presence(work, payload)
        elif isinstance(payload, TimerFired):
            await commands.do_timer(work, payload)
        elif isinstance(payload, TakeOffer):
            await commands.do_take(work, payload)
        elif isinstance(payload, SkipOffer):
            await commands.do_skip(work, payload)
        elif isinstance(payload, TransferDialog):
            await commands.do_transfer(work, payload)
        elif isinstance(payload, InviteColleague):
            await commands.do_invite(work, payload)
        elif isinstance(payload, LeaveDialog):
            await commands.do_leave(work, payload)
        elif isinstance(payload, HiddenNote):
            await commands.do_note(work, payload)
        elif isinstance(payload, RateDialog):
            await commands.do_rate(work, payload)


async def do_inbound_run(work: Batch, msgs: Sequence[InboundMessage]) -> None:
    """Handle consecutive inbound messages in order, with their reads done set-wise."""
    if not msgs:
        return
    run = await InboundRun.load(work, msgs)
    for msg in msgs:
        await do_inbound(work, msg, run)
    await run.drain()


async def do_inbound(work: Batch, msg: InboundMessage, run: InboundRun) -> None:
    """Store a client's message in their open dialog, opening and assigning one if needed.

    A message for a dialog already open waits in ``run`` to be flushed with the others; every
    other case first drains the run, so effects keep the order of the messages."""
    session = work.session
    channel = await work.channel(msg.channel_id)
    if channel is None or not channel.enabled:
        log.error(
            "inbound message %s names channel_id %d, which is unknown or disabled; dropped",
            msg.external_message_id,
            msg.channel_id,
        )
        return
    seen = await run.stored(channel.id, msg.external_message_id)
    identity = await run.identity(channel.id, msg.external_user_id)
    if seen is not None and identity is not None:
        await run.drain()
        # A repeat within the run: drain stored the first one, so read its row now.
        seen = await run.stored(channel.id, msg.external_message_id)
        assert seen is not None
        # Delivered again (a retry, or a crash between commit and ack): store nothing, but
        # announce again in case the first announcement never left. Consumers drop repeats.
        dialog = await session.get(Dialog, seen.dialog_id)
        assert dialog is not None
        await work.announce_message(dialog, seen)
        if msg.echo:
            await work.deliver(dialog, seen, identity.external_id)
        return
    if identity is not None and await _took_rating(work, channel.kind, identity, msg, run):
        return
    dialog = None
    if identity is not None and msg.thread_dialog_id is None and run.known(identity):
        dialog = run.open_dialog(identity)  # what do_open_dialog would find, without a SELECT
    opened = False
    if dialog is None:
        await run.drain()
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
    dialog.last_message_at = work.now
    dialog.client_messages += 1
    await run.remember(msg, dialog, message)
    if not opened:
        # Its INSERT, hints, routing and announcements are drain's, in this same order.
        run.defer(msg, dialog, message, msg.echo)
        return
    session.add(message)
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
    work.emit(
        streams.CRM,
        DialogOpenedForCrm(dialog_id=dialog.id, client_id=dialog.client_id, line_id=dialog.line_id),
    )
    policy = await run.policy(dialog.line_id)
    states = await operator_states(work, dialog.line_id)
    snap = await snapshot(work, dialog)
    echo_to = msg.external_user_id if msg.echo else None
    # The dialog (routed), then the client's own message, then the greeting.
    await do_apply(work, decide_open(snap, policy, states, work.now), message, echo_to)


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
    if not await commands.may_work_on(work, dialog, operator):
        log.warning("operator %d may not reply in dialog %d; dropped", operator.id, dialog.id)
        return
    if dialog.operator_id is None:
        # Answering a waiting dialog takes it, by the same rules as taking it.
        policy = await load_policy(work, dialog.line_id)
        states = await operator_states(work, dialog.line_id)
        snap = await snapshot(work, dialog)
        await do_apply(work, decide_take(snap, policy, states, operator.id, work.now))
        if dialog.operator_id != operator.id and not is_supervisor:
            log.warning(
                "operator %d could not take dialog %d to reply; dropped", operator.id, dialog.id
            )
            return
    message = Message(
        dialog_id=dialog.id,
        channel_id=dialog.channel_id,
        author="operator",
        operator_id=operator.id,
        author_name=operator.name,
        text=cmd.text,
        attachments=[a.model_dump() for a in cmd.attachments],
        client_msg_id=cmd.client_msg_id,
        created_at=work.now,
    )
    session.add(message)
    first = dialog.first_response_at is None
    if first:
        dialog.first_response_at = work.now
    dialog.last_message_at = work.now
    dialog.operator_messages += 1
    await session.flush()
    if first:
        await work.announce_dialog(dialog, message)
    await work.announce_message(dialog, message)
    await work.deliver(dialog, message, identity.external_id)
    policy = await load_policy(work, dialog.line_id)
    await do_apply(work, decide_operator_message(await snapshot(work, dialog), policy, work.now))


async def do_close(work: Batch, cmd: CloseDialog) -> None:
    """Close a dialog (by its operator, or the client where the channel allows); the line's
    closing text, the rating request and the statistics outcome come from ``decide_close``."""
    dialog = await work.session.get(Dialog, cmd.dialog_id)
    if dialog is None:
        log.error("close names dialog %d, which does not exist; dropped", cmd.dialog_id)
        return
    by: ClosedBy = "operator" if cmd.operator_id is not None else "client"
    policy = await load_policy(work, dialog.line_id)
    await do_apply(work, decide_close(await snapshot(work, dialog), policy, by))


async def do_presence(work: Batch, cmd: PresenceChange) -> None:
    """Record an operator's presence; waiting dialogs go to one who comes online, and the
    offers of one who leaves go on to others."""
    operator = await work.session.get(Operator, cmd.operator_id)
    if operator is None:
        log.error("presence names operator %d, which does not exist; dropped", cmd.operator_id)
        return
    if operator.status == cmd.status:
        return
    operator.status = cmd.status
    await work.session.flush()
    await commands.do_presence_routing(work, operator)


async def _took_rating(
    work: Batch, kind: str, identity: ClientIdentity, msg: InboundMessage, run: InboundRun
) -> bool:
    """A rating answer to the last closed dialog's request is stored on it, not opening a new
    dialog; any other text opens one as usual."""
    if run.known(identity):
        last = run.latest_dialog(identity)
    else:
        last = await work.session.scalar(
            select(Dialog)
            .where(Dialog.identity_id == identity.id)
            .order_by(Dialog.id.desc())
            .limit(1)
        )
    if last is None or last.status != "closed" or last.rating is not None:
        return False
    if last.rating_requested_at is None:
        return False
    policy = await run.policy(last.line_id)
    rating = parse_rating(msg.text, policy.rating)
    if rating is None:
        return False
    await run.drain()
    last.rating = rating
    message = Message(
        dialog_id=last.id,
        channel_id=last.channel_id,
        author="client",
        author_name=msg.client_name,
        text=msg.text,
        external_id=msg.external_message_id,
        client_msg_id=msg.client_msg_id,
        created_at=work.now,
    )
    work.session.add(message)
    await work.session.flush()
    await run.remember(msg, last, message)
    await work.announce_dialog(last)
    await work.announce_message(last, message)
    if msg.echo:
        await work.deliver(last, message, identity.external_id)
    return True
