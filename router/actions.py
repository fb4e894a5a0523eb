"""The router's writer: the only code that changes dialogs and messages.

Each ``do_*`` reads what it needs (``router.reads``), asks a pure decision function what to
do, and writes; ``do_intents`` carries the decided intents out. Effects are queued on the batch
(``router.batch``), which the worker commits in one transaction and publishes after the commit.
Every handler is idempotent, because the bus delivers at least once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select, update

from core import streams
from core.db import loaded
from core.db.counters import count_messages
from core.db.on_cursor import core_rows
from core.db.routing_schema import DialogOffer, member_lines
from core.db.schema import Client, ClientIdentity, Dialog, Message, Operator
from core.envelope import (
    RATING_CONTROL_KINDS,
    CloseDialog,
    DialogClosedForCrm,
    DialogClosedNotice,
    OperatorReply,
    PresenceChange,
    PresenceEvent,
)
from core.integration_events import dialog_event
from core.logs import log_context
from core.roles import SUPERVISOR_ROLES
from core.views import ShownMessage
from router.audit import do_audit
from router.batch import Batch
from router.decide import decide_take, decide_unavailable, route_waiting
from router.handover import assign
from router.intents import (
    MOVES_LOAD,
    Assign,
    Audit,
    AutoReply,
    CancelTimer,
    Close,
    ClosedBy,
    EndOffers,
    Intent,
    MarkHours,
    MoveToLine,
    Note,
    Offer,
    Remind,
    Reopen,
    SetTimer,
    Unassign,
    Wait,
)
from router.lifecycle import decide_close, decide_operator_message
from router.locks import lock_dialogs
from router.reads import Acting, load_policy, may_work_on, operator_states, snapshot
from router.statements import WAITING, MessageRecord, waiting_dialogs

log = logging.getLogger(__name__)

StoredReplies = dict[tuple[int, str], ShownMessage]
"""Replies already stored, by (dialog id, client_msg_id): read set-wise for a run of replies."""


async def do_reply(work: Batch, cmd: OperatorReply, stored: StoredReplies | None = None) -> None:
    """Store an operator's reply and hand it to the channel.

    ``stored``: the replies of the run already stored (``router.replies``), kept up to date
    here; without it the repeat check is a query of its own.
    """
    session = work.session
    dialog = await loaded.get(session, Dialog, cmd.dialog_id)
    operator = await loaded.get(session, Operator, cmd.operator_id)
    if dialog is None or operator is None:
        log.error(
            "reply %s names dialog %d or operator %d that does not exist; dropped",
            cmd.client_msg_id,
            cmd.dialog_id,
            cmd.operator_id,
        )
        return
    identity = await loaded.get(session, ClientIdentity, dialog.identity_id)
    assert identity is not None
    seen: ShownMessage | None
    if stored is None:
        seen = await session.scalar(
            select(Message).where(
                Message.dialog_id == dialog.id, Message.client_msg_id == cmd.client_msg_id
            )
        )
    else:
        seen = stored.get((dialog.id, cmd.client_msg_id))
    if seen is not None:
        await work.announce_message(dialog, seen)
        await work.deliver(dialog, seen, identity.external_id)
        return
    if not await may_store_reply(work, dialog, operator, cmd):
        return
    first = dialog.first_response_at is None
    reply = new_reply(work, dialog, operator, cmd)
    message = Message(**{name: getattr(reply, name) for name in NEW_REPLY_COLUMNS})
    session.add(message)
    await session.flush()
    await session.run_sync(count_messages, work.now, (), [dialog])
    if stored is not None:
        stored[(dialog.id, cmd.client_msg_id)] = message
    if first:
        await work.announce_dialog(dialog, message)
    await work.announce_message(dialog, message)
    await work.deliver(dialog, message, identity.external_id)
    policy = await load_policy(work, dialog.line_id)
    await do_intents(work, decide_operator_message(dialog.id, policy, work.now))


async def may_store_reply(
    work: Batch, dialog: Dialog, operator: Acting, cmd: OperatorReply
) -> bool:
    """Whether the reply may be stored; answering a waiting dialog takes it first, by the same
    rules as taking it."""
    if dialog.status == "closed":
        log.warning("reply %s to closed dialog %d; dropped", cmd.client_msg_id, dialog.id)
        return False
    if not await may_work_on(work, dialog, operator):
        log.warning("operator %d may not reply in dialog %d; dropped", operator.id, dialog.id)
        return False
    if dialog.operator_id is None:
        policy = await load_policy(work, dialog.line_id)
        states = await operator_states(work, dialog.line_id)
        await lock_dialogs(work, [dialog])
        snap = await snapshot(work, dialog)
        await do_intents(work, decide_take(snap, policy, states, operator.id, work.now))
        if dialog.operator_id != operator.id and operator.role not in SUPERVISOR_ROLES:
            log.warning(
                "operator %d could not take dialog %d to reply; dropped", operator.id, dialog.id
            )
            return False
    return True


NEW_REPLY_COLUMNS = (
    "dialog_id",
    "channel_id",
    "author",
    "operator_id",
    "author_name",
    "text",
    "attachments",
    "client_msg_id",
    "created_at",
    "hidden",
)
"""The columns a reply is stored with; the rest are None, in the row and in the record."""


def new_reply(work: Batch, dialog: Dialog, operator: Acting, cmd: OperatorReply) -> MessageRecord:
    """The reply's message, for the caller to store and count (``core.db.counters``)."""
    if dialog.first_response_at is None:
        dialog.first_response_at = work.now
    return MessageRecord(
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


async def do_close(work: Batch, cmd: CloseDialog) -> None:
    """Close a dialog (by its operator, or the client where the channel allows); the line's
    closing text, the rating request and the statistics outcome come from ``decide_close``."""
    dialog = await loaded.get(work.session, Dialog, cmd.dialog_id)
    if dialog is None:
        log.error("close names dialog %d, which does not exist; dropped", cmd.dialog_id)
        return
    by: ClosedBy = "operator" if cmd.operator_id is not None else "client"
    policy = await load_policy(work, dialog.line_id)
    controls = await rating_controls(work, dialog)
    await do_intents(
        work, decide_close(await snapshot(work, dialog), policy, by, rating_controls=controls)
    )


async def do_close_run(work: Batch, closes: Sequence[CloseDialog]) -> None:
    """Close dialogs in order, with their rows, identities and clients read once for the run:
    three statements in all instead of three a close (the session holds what it read)."""
    session = work.session
    dialogs = await loaded.by_ids(session, Dialog, sorted({c.dialog_id for c in closes}))
    await loaded.by_ids(session, ClientIdentity, sorted({d.identity_id for d in dialogs}))
    await loaded.by_ids(session, Client, sorted({d.client_id for d in dialogs}))
    for cmd in closes:
        with log_context(dialog_id=cmd.dialog_id):
            await do_close(work, cmd)


async def rating_controls(work: Batch, dialog: Dialog) -> bool:
    """Whether the dialog's channel asks for the rating with its own controls."""
    channel = await work.channel(dialog.channel_id)
    return channel is not None and channel.kind in RATING_CONTROL_KINDS


async def do_presence(work: Batch, cmd: PresenceChange) -> None:
    """Record an operator's presence; waiting dialogs go to one who comes online, and the
    offers of one who leaves go on to others."""
    operator = await loaded.get(work.session, Operator, cmd.operator_id)
    if operator is None:
        log.error("presence names operator %d, which does not exist; dropped", cmd.operator_id)
        return
    if operator.status == cmd.status:
        return
    operator.status = cmd.status
    work.load_changes += 1
    await work.session.flush()
    # The operator's own consoles show what the router decided, not what they asked for: a
    # grace that ran out, or an admin taking them offline, changes the selector too.
    work.emit(
        streams.EVENTS,
        PresenceEvent(
            key=f"presence:{operator.id}:{cmd.status}:{work.now.isoformat()}",
            recipients=(operator.id,),
            operator_id=operator.id,
            status=cmd.status,
        ),
    )
    # Sorted: the union behind member_lines has no order, and the batch should not depend on it.
    for line_id in sorted(await work.session.scalars(member_lines(operator.id))):
        if operator.status == "online":
            await do_route_waiting(work, line_id, "operator_online")
        else:
            await _pass_offers_on(work, line_id, operator)


async def _pass_offers_on(work: Batch, line_id: int, operator: Operator) -> None:
    """Hand the line's pending offers of an operator who left on to others."""
    offered = (
        await work.session.scalars(
            select(Dialog)
            .join(DialogOffer, DialogOffer.dialog_id == Dialog.id)
            .where(
                Dialog.line_id == line_id,
                DialogOffer.operator_id == operator.id,
                DialogOffer.state == "pending",
            )
            .order_by(Dialog.opened_at, Dialog.id)
        )
    ).all()
    if not offered:
        return
    policy = await load_policy(work, line_id)
    states = await operator_states(work, line_id)
    await lock_dialogs(work, offered)
    snaps = [await snapshot(work, d) for d in offered]
    await do_intents(
        work, decide_unavailable(snaps, policy, states, operator.id, operator.status, work.now)
    )


async def do_route_waiting(work: Batch, line_id: int, why: str) -> None:
    """Give out the line's waiting dialogs (someone freed up, came online, or the line opened)."""
    # The operators are locked before the queue is read (router/locks.py). Another router that
    # found them full and is queueing a dialog holds these locks until it commits: read first,
    # its dialog would be missed here, and then wait in the queue while an operator has room.
    states = await operator_states(work, line_id)
    session = work.session.sync_session
    waiting = [
        loaded.adopt(session, WAITING, row)
        for row in await core_rows(work.session, waiting_dialogs(), {"line_id": line_id})
    ]
    if not waiting:
        return
    policy = await load_policy(work, line_id)
    # A dialog loaded into the session before may since have been given out by another router.
    await lock_dialogs(work, waiting)
    snapshots = [await snapshot(work, d) for d in waiting]
    await do_intents(work, route_waiting(snapshots, policy, states, work.now, why))


async def do_intents(
    work: Batch,
    intents: Sequence[Intent],
    lead: ShownMessage | None = None,
    echo_to: str | None = None,
) -> None:
    """Carry out decided intents in order.

    Dialogs that changed are announced once, after; then ``lead`` (the client message that
    caused this, echoed to ``echo_to`` on channels that show the sender their own message),
    then the auto-replies and notes written, so every reader sees them in that order.
    """
    changed: dict[int, Dialog] = {}
    freed_lines: set[int] = set()
    written: list[tuple[Dialog, Message]] = []
    for intent in intents:
        if isinstance(intent, SetTimer | CancelTimer):
            work.timer_ops.append(intent)
            continue
        if isinstance(intent, Audit):
            do_audit(work, intent)
            continue
        if isinstance(intent, Remind):
            await work.announce_reminder(intent.dialog_id, intent.stage, intent.waited_minutes)
            continue
        dialog = changed.get(intent.dialog_id) or await loaded.get(
            work.session, Dialog, intent.dialog_id
        )
        if dialog is None:
            log.error("intent %r names a dialog that does not exist", intent)
            continue
        if isinstance(intent, MOVES_LOAD):
            work.load_changes += 1
        changed[dialog.id] = dialog
        message = await _apply_one(work, dialog, intent, freed_lines)
        if message is not None:
            written.append((dialog, message))
    await work.session.flush()
    await _announce(work, changed, lead, echo_to, written)
    for line_id in freed_lines:
        await do_route_waiting(work, line_id, "operator_freed")


async def _announce(
    work: Batch,
    changed: dict[int, Dialog],
    lead: ShownMessage | None,
    echo_to: str | None,
    written: list[tuple[Dialog, Message]],
) -> None:
    """The changed dialogs, then the lead message, then the messages written, in that order."""
    for dialog in changed.values():
        await work.announce_dialog(dialog, lead if lead and lead.dialog_id == dialog.id else None)
    if lead is not None:
        home = changed.get(lead.dialog_id) or await loaded.get(work.session, Dialog, lead.dialog_id)
        assert home is not None
        await work.announce_message(home, lead)
        if echo_to is not None:
            await work.deliver(home, lead, echo_to)
    for dialog, message in written:
        await work.announce_message(dialog, message)
        if not message.hidden:
            identity = await loaded.get(work.session, ClientIdentity, dialog.identity_id)
            assert identity is not None
            await work.deliver(dialog, message, identity.external_id)


async def _apply_one(
    work: Batch, dialog: Dialog, intent: Intent, freed: set[int]
) -> Message | None:
    session = work.session
    if isinstance(intent, Assign):
        operator = await loaded.get(session, Operator, intent.operator_id)
        assert operator is not None
        await session.run_sync(assign, dialog, operator, work.now)
        assigned = f"{dialog.offer_round}:{operator.id}:{work.now.isoformat()}"
        work.emit(streams.EVENTS, dialog_event("dialog.assigned", dialog, work.now, assigned))
    elif isinstance(intent, Offer):
        _offer(work, dialog, intent)
    elif isinstance(intent, EndOffers):
        await _end_offers(work, dialog, intent)
    elif isinstance(intent, Unassign | Reopen):
        dialog.operator_id = None
        dialog.status = "waiting"
        dialog.assigned_at = None
        if isinstance(intent, Reopen):
            dialog.closed_at = dialog.closed_by = dialog.outcome = None
            dialog.rating_requested_at = None
            # A new round: the dialog's live event keys name it, and a state it had before
            # the close must reach the consoles again.
            dialog.offer_round += 1
    elif isinstance(intent, Wait):
        dialog.wait_reason = intent.reason
    elif isinstance(intent, MoveToLine):
        dialog.line_id = intent.line_id
    elif isinstance(intent, MarkHours) and dialog.began_in_hours != intent.in_hours:
        # A new dialog is stored with its hours marked: the same value would leave it dirty.
        dialog.began_in_hours = intent.in_hours
    elif isinstance(intent, AutoReply | Note):
        return await _system_message(work, dialog, intent)
    elif isinstance(intent, Close):
        await _close(work, dialog, intent)
        freed.add(dialog.line_id)
    return None


def _offer(work: Batch, dialog: Dialog, intent: Offer) -> None:
    dialog.offer_round = intent.round
    dialog.wait_reason = None
    if intent.exclusive:
        dialog.last_offered_id = intent.operator_ids[0]
    work.session.add_all(
        DialogOffer(
            dialog_id=dialog.id,
            operator_id=op,
            round=intent.round,
            exclusive=intent.exclusive,
            offered_at=work.now,
            answer_by=intent.answer_by,
        )
        for op in intent.operator_ids
    )


async def _end_offers(work: Batch, dialog: Dialog, intent: EndOffers) -> None:
    await work.session.flush()
    query = update(DialogOffer).where(
        DialogOffer.dialog_id == dialog.id, DialogOffer.state == "pending"
    )
    if intent.operator_ids:
        query = query.where(DialogOffer.operator_id.in_(intent.operator_ids))
    await work.session.execute(query.values(state=intent.state, ended_at=work.now))


async def _system_message(work: Batch, dialog: Dialog, intent: AutoReply | Note) -> Message:
    hidden = isinstance(intent, Note)
    line = await work.line(dialog.line_id)
    message = Message(
        dialog_id=dialog.id,
        channel_id=dialog.channel_id,
        author="system",
        author_name=line.name,
        text=intent.text,
        hidden=hidden,
        created_at=work.now,
    )
    work.session.add(message)
    await work.session.flush()
    return message


async def _close(work: Batch, dialog: Dialog, intent: Close) -> None:
    dialog.status = "closed"
    dialog.closed_at = work.now
    dialog.closed_by = intent.by
    dialog.outcome = intent.outcome
    if intent.ask_rating:
        dialog.rating_requested_at = work.now
    identity = await loaded.get(work.session, ClientIdentity, dialog.identity_id)
    channel = await work.channel(dialog.channel_id)
    assert identity is not None and channel is not None
    work.emit(
        streams.outbound(channel.kind),
        DialogClosedNotice(
            dialog_id=dialog.id,
            channel_id=dialog.channel_id,
            external_user_id=identity.external_id,
            rating=(await work.line(dialog.line_id)).settings.rating
            if intent.ask_rating
            else "none",
        ),
    )
    work.emit(streams.CRM, DialogClosedForCrm(dialog_id=dialog.id, client_id=dialog.client_id))
    closed = dialog_event(
        "dialog.closed", dialog, work.now, f"closed:{work.now.isoformat()}", outcome=dialog.outcome
    )
    work.emit(streams.EVENTS, closed)
