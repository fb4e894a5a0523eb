"""The writer of open-line routing: reads snapshots for the pure decisions and carries out
their intents on the batch (rows, audit records, auto-replies, timers, announcements).

Every change happens in the batch's transaction; timers and bus effects go out after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Integer, func, literal, select, union_all, update

from config.lines import LineSettings
from core import streams
from core.db.crm_schema import CrmLead, CrmProfile
from core.db.routing_schema import DialogOffer, LineGroup, OperatorGroupMember, RoutingAudit
from core.db.schema import ClientIdentity, Dialog, Line, LineOperator, Message, Operator
from core.envelope import DialogClosedForCrm, DialogClosedNotice
from router.batch import Batch
from router.decide import DialogSnapshot, LinePolicy, Replies, route_waiting
from router.distribution import OperatorState
from router.intents import (
    Assign,
    Audit,
    AutoReply,
    CancelTimer,
    Close,
    EndOffers,
    Intent,
    MarkHours,
    MoveToLine,
    Note,
    Offer,
    SetTimer,
    Unassign,
    Wait,
)
from router.queue_groups import QueueEntry, QueueMember, expand_queue

log = logging.getLogger(__name__)

ACTIVE = ("waiting", "open")


def line_settings(line: Line) -> LineSettings:
    """A line's routing settings; a row with settings this version cannot read gets defaults."""
    try:
        return LineSettings.model_validate(line.settings or {})
    except ValueError:
        log.exception("line %d has invalid settings; routing it with defaults", line.id)
        return LineSettings()


async def load_policy(work: Batch, line_id: int) -> LinePolicy:
    """The routing policy of a line, from its row and its queue."""
    line = await work.line(line_id)
    settings = line_settings(line)
    queue = [member.operator_id for member, _op in await line_queue(work, line_id)]
    mode = line.distribution if line.distribution in ("evenly", "sequence", "all") else "evenly"
    replies = settings.auto_replies
    try:
        schedule = settings.build_schedule(line.timezone)
    except ValueError:
        log.exception("line %d has an invalid schedule; treating it as always open", line.id)
        schedule = None
    return LinePolicy(
        line_id=line.id,
        mode=mode,  # type: ignore[arg-type]
        queue=tuple(queue),
        offer_seconds=settings.offer_seconds,
        schedule=schedule,
        out_of_hours=settings.out_of_hours,
        returning=settings.returning,
        replies=Replies(replies.greeting, replies.no_answer, replies.out_of_hours, replies.close),
        no_answer_seconds=settings.no_answer_seconds,
        no_answer_action=settings.no_answer_action,
        rating=settings.rating,
        auto_close_minutes=settings.auto_close_minutes,
    )


async def line_queue(work: Batch, line_id: int) -> list[tuple[QueueMember, Operator]]:
    """The line's queue with its groups expanded into their current members, in order, each
    with their operator row: one statement, as the queue cost before groups existed."""
    direct = select(
        LineOperator.position,
        LineOperator.operator_id,
        literal(None, Integer).label("group_id"),
        LineOperator.max_open_dialogs,
    ).where(LineOperator.line_id == line_id)
    grouped = (
        select(
            LineGroup.position,
            OperatorGroupMember.operator_id,
            LineGroup.group_id,
            LineGroup.max_open_dialogs,
        )
        .join(OperatorGroupMember, OperatorGroupMember.group_id == LineGroup.group_id)
        .where(LineGroup.line_id == line_id)
    )
    rows = union_all(direct, grouped).subquery()
    result = await work.session.execute(
        select(rows, Operator).join(Operator, Operator.id == rows.c.operator_id)
    )
    entries: dict[tuple[int, int], QueueEntry] = {}
    members: dict[int, list[int]] = {}
    people: dict[int, Operator] = {}
    for position, operator_id, group_id, limit, operator in result:
        people[operator_id] = operator
        if group_id is None:
            entries[(0, operator_id)] = QueueEntry(position, operator_id, None, limit)
        else:
            # An empty group has no row here, which expands to nobody either way.
            entries[(1, group_id)] = QueueEntry(position, None, group_id, limit)
            members.setdefault(group_id, []).append(operator_id)
    return [(m, people[m.operator_id]) for m in expand_queue(entries.values(), members)]


async def operator_states(work: Batch, line_id: int) -> list[OperatorState]:
    """The line's operators with presence and load: open dialogs held plus pending exclusive
    offers, counted now from the live rows (never from history)."""
    session = work.session
    line = await work.line(line_id)
    default_max = line_settings(line).max_per_operator
    members = await line_queue(work, line_id)
    ids = [op.id for _member, op in members]
    on_line: dict[int, int] = {}
    total: dict[int, int] = {}
    held = await session.execute(
        select(Dialog.operator_id, Dialog.line_id, func.count())
        .where(Dialog.operator_id.in_(ids), Dialog.status.in_(ACTIVE))
        .group_by(Dialog.operator_id, Dialog.line_id)
    )
    offered = await session.execute(
        select(DialogOffer.operator_id, Dialog.line_id, func.count())
        .join(Dialog, Dialog.id == DialogOffer.dialog_id)
        .where(
            DialogOffer.operator_id.in_(ids),
            DialogOffer.state == "pending",
            DialogOffer.exclusive.is_(True),
        )
        .group_by(DialogOffer.operator_id, Dialog.line_id)
    )
    for operator_id, dialog_line, count in [*held.all(), *offered.all()]:
        if operator_id is None:
            continue
        total[operator_id] = total.get(operator_id, 0) + count
        if dialog_line == line_id:
            on_line[operator_id] = on_line.get(operator_id, 0) + count
    return [
        OperatorState(
            operator_id=op.id,
            status=op.status if op.status in ("online", "away") else "offline",  # type: ignore[arg-type]
            open_dialogs_on_line=on_line.get(op.id, 0),
            open_dialogs_total=total.get(op.id, 0),
            max_on_line=member.max_open_dialogs or default_max,
            max_total=op.max_open_dialogs,
            last_assigned_at=op.last_assigned_at,
            on_line=True,
        )
        for member, op in members
    ]


async def snapshot(
    work: Batch, dialog: Dialog, offers: Sequence[DialogOffer] | None = None
) -> DialogSnapshot:
    """The routing view of a dialog; ``offers`` are its offers in id order when the caller
    already read them set-wise (router/prefetch.py)."""
    session = work.session
    if offers is None:
        offers = (
            await session.scalars(
                select(DialogOffer)
                .where(DialogOffer.dialog_id == dialog.id)
                .order_by(DialogOffer.id)
            )
        ).all()
    pending = [o for o in offers if o.state == "pending"]
    previous_operator = None
    if dialog.previous_dialog_id is not None:
        previous = await session.get(Dialog, dialog.previous_dialog_id)
        if previous is not None and previous.line_id == dialog.line_id:
            previous_operator = previous.operator_id
    responsible = None
    if line_settings(await work.line(dialog.line_id)).returning == "crm_responsible":
        responsible = await crm_responsible(work, dialog.client_id)
    return DialogSnapshot(
        dialog_id=dialog.id,
        line_id=dialog.line_id,
        status=dialog.status,  # type: ignore[arg-type]
        operator_id=dialog.operator_id,
        opened_at=dialog.opened_at,
        answered=dialog.first_response_at is not None,
        offered_to=tuple(o.operator_id for o in pending),
        offer_exclusive=any(o.exclusive for o in pending),
        offer_round=dialog.offer_round,
        last_offered=dialog.last_offered_id,
        skipped_by=frozenset(o.operator_id for o in offers if o.state == "skipped"),
        previous_operator=previous_operator,
        crm_responsible=responsible,
        began_in_hours=dialog.began_in_hours,
        wait_reason=dialog.wait_reason,
    )


async def crm_responsible(work: Batch, client_id: int) -> int | None:
    """The client's responsible operator in the built-in CRM: the contact's, else that of the
    client's latest lead. Read from the tables directly (the router never imports the sink);
    a client merged into another answers for the main one."""
    session = work.session
    profile = await session.get(CrmProfile, client_id)
    if profile is not None and profile.merged_into_id is not None:
        client_id = profile.merged_into_id
        profile = await session.get(CrmProfile, client_id)
    if profile is not None and profile.responsible_id is not None:
        return profile.responsible_id
    return await session.scalar(
        select(CrmLead.responsible_id)
        .where(CrmLead.client_id == client_id, CrmLead.responsible_id.is_not(None))
        .order_by(CrmLead.id.desc())
        .limit(1)
    )


async def do_route_waiting(work: Batch, line_id: int, why: str) -> None:
    """Give out the line's waiting dialogs (someone freed up, came online, or the line opened)."""
    waiting = (
        await work.session.scalars(
            select(Dialog)
            .where(Dialog.line_id == line_id, Dialog.status == "waiting")
            .order_by(Dialog.opened_at, Dialog.id)
            .limit(200)
        )
    ).all()
    if not waiting:
        return
    policy = await load_policy(work, line_id)
    states = await operator_states(work, line_id)
    snapshots = [await snapshot(work, d) for d in waiting]
    await do_apply(work, route_waiting(snapshots, policy, states, work.now, why))


async def do_apply(
    work: Batch,
    intents: Sequence[Intent],
    lead: Message | None = None,
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
            work.session.add(
                RoutingAudit(
                    dialog_id=intent.dialog_id,
                    line_id=intent.line_id,
                    at=work.now,
                    event=intent.event,
                    mode=intent.mode,
                    operator_id=intent.operator_id,
                    reason=intent.reason,
                    candidates=[
                        {"operator_id": c.operator_id, "passed_over": c.passed_over}
                        for c in intent.candidates
                    ],
                    detail=intent.detail,
                )
            )
            continue
        dialog = changed.get(intent.dialog_id) or await work.session.get(Dialog, intent.dialog_id)
        if dialog is None:
            log.error("intent %r names a dialog that does not exist", intent)
            continue
        changed[dialog.id] = dialog
        message = await _apply_one(work, dialog, intent, freed_lines)
        if message is not None:
            written.append((dialog, message))
    await work.session.flush()
    for dialog in changed.values():
        await work.announce_dialog(dialog, lead if lead and lead.dialog_id == dialog.id else None)
    if lead is not None:
        dialog = changed.get(lead.dialog_id) or await work.session.get(Dialog, lead.dialog_id)
        assert dialog is not None
        await work.announce_message(dialog, lead)
        if echo_to is not None:
            await work.deliver(dialog, lead, echo_to)
    for dialog, message in written:
        await work.announce_message(dialog, message)
        if not message.hidden:
            identity = await work.session.get(ClientIdentity, dialog.identity_id)
            assert identity is not None
            await work.deliver(dialog, message, identity.external_id)
    for line_id in freed_lines:
        await do_route_waiting(work, line_id, "operator_freed")


async def _apply_one(
    work: Batch, dialog: Dialog, intent: Intent, freed: set[int]
) -> Message | None:
    session = work.session
    if isinstance(intent, Assign):
        operator = await session.get(Operator, intent.operator_id)
        assert operator is not None
        dialog.operator_id = operator.id
        dialog.status = "open"
        dialog.assigned_at = work.now
        dialog.wait_reason = None
        operator.last_assigned_at = work.now
    elif isinstance(intent, Offer):
        dialog.offer_round = intent.round
        dialog.wait_reason = None
        if intent.exclusive:
            dialog.last_offered_id = intent.operator_ids[0]
        session.add_all(
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
    elif isinstance(intent, EndOffers):
        await session.flush()
        query = update(DialogOffer).where(
            DialogOffer.dialog_id == dialog.id, DialogOffer.state == "pending"
        )
        if intent.operator_ids:
            query = query.where(DialogOffer.operator_id.in_(intent.operator_ids))
        await session.execute(query.values(state=intent.state, ended_at=work.now))
    elif isinstance(intent, Unassign):
        dialog.operator_id = None
        dialog.status = "waiting"
        dialog.assigned_at = None
    elif isinstance(intent, Wait):
        dialog.wait_reason = intent.reason
    elif isinstance(intent, MoveToLine):
        dialog.line_id = intent.line_id
    elif isinstance(intent, MarkHours):
        dialog.began_in_hours = intent.in_hours
    elif isinstance(intent, AutoReply | Note):
        return await _system_message(work, dialog, intent)
    elif isinstance(intent, Close):
        await _close(work, dialog, intent)
        freed.add(dialog.line_id)
    return None


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
    identity = await work.session.get(ClientIdentity, dialog.identity_id)
    channel = await work.channel(dialog.channel_id)
    assert identity is not None and channel is not None
    work.emit(
        streams.outbound(channel.kind),
        DialogClosedNotice(
            dialog_id=dialog.id,
            channel_id=dialog.channel_id,
            external_user_id=identity.external_id,
            rating=line_settings(await work.line(dialog.line_id)).rating
            if intent.ask_rating
            else "none",
        ),
    )
    work.emit(streams.CRM, DialogClosedForCrm(dialog_id=dialog.id, client_id=dialog.client_id))
