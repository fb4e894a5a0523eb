"""Opening dialogs and giving them to operators: read the state, ask ``distribution``, write."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from core.db.schema import Channel, Client, ClientIdentity, Dialog, LineOperator, Operator
from core.envelope import InboundMessage
from router.batch import Batch
from router.distribution import LineRouting, OperatorState, decide_assignment

log = logging.getLogger(__name__)

OPEN_STATUSES = ("waiting", "open")


async def do_open_dialog(
    work: Batch, channel: Channel, msg: InboundMessage, identity: ClientIdentity | None
) -> tuple[Dialog, bool]:
    """The client's open dialog on this channel, or a new one; True when it is new."""
    session = work.session
    if identity is None:
        client = Client(name=msg.client_name, created_at=work.now, updated_at=work.now)
        session.add(client)
        await session.flush()
        identity = ClientIdentity(
            client_id=client.id,
            channel_id=channel.id,
            external_id=msg.external_user_id,
            display_name=msg.client_name,
            created_at=work.now,
        )
        session.add(identity)
        await session.flush()
    dialog = await session.scalar(
        select(Dialog)
        .where(Dialog.identity_id == identity.id, Dialog.status.in_(OPEN_STATUSES))
        .order_by(Dialog.id.desc())
        .limit(1)
    )
    if dialog is not None:
        return dialog, False
    previous = await session.scalar(
        select(func.max(Dialog.id)).where(Dialog.identity_id == identity.id)
    )
    dialog = Dialog(
        line_id=channel.line_id,
        channel_id=channel.id,
        client_id=identity.client_id,
        identity_id=identity.id,
        status="waiting",
        opened_at=work.now,
        last_message_at=work.now,
        previous_dialog_id=previous,
    )
    session.add(dialog)
    await session.flush()
    return dialog, True


async def operator_states(work: Batch, line_id: int) -> tuple[LineRouting, list[OperatorState]]:
    """The line's routing settings and its operators' presence and load, read now."""
    session = work.session
    line = await work.line(line_id)
    members = (
        await session.execute(
            select(LineOperator, Operator)
            .join(Operator, Operator.id == LineOperator.operator_id)
            .where(LineOperator.line_id == line_id)
            .order_by(LineOperator.position, Operator.id)
        )
    ).all()
    ids = [op.id for _m, op in members]
    loads = (
        await session.execute(
            select(Dialog.operator_id, Dialog.line_id, func.count())
            .where(Dialog.operator_id.in_(ids), Dialog.status.in_(OPEN_STATUSES))
            .group_by(Dialog.operator_id, Dialog.line_id)
        )
    ).all()
    on_line: dict[int, int] = {}
    total: dict[int, int] = {}
    for operator_id, dialog_line, count in loads:
        if operator_id is None:
            continue
        total[operator_id] = total.get(operator_id, 0) + count
        if dialog_line == line_id:
            on_line[operator_id] = count
    states = [
        OperatorState(
            operator_id=op.id,
            status=op.status,  # type: ignore[arg-type]
            open_dialogs_on_line=on_line.get(op.id, 0),
            open_dialogs_total=total.get(op.id, 0),
            max_on_line=member.max_open_dialogs,
            max_total=op.max_open_dialogs,
            last_assigned_at=op.last_assigned_at,
            on_line=True,
        )
        for member, op in members
    ]
    routing = LineRouting(
        line_id=line.id,
        mode="evenly",
        queue=tuple(ids),
        no_answer_seconds=int(line.settings.get("no_answer_seconds", 60)),
    )
    return routing, states


async def try_assign(work: Batch, dialog: Dialog) -> bool:
    """Give a waiting dialog to an operator if anyone can take it; False leaves it waiting."""
    routing, states = await operator_states(work, dialog.line_id)
    decision = decide_assignment(routing, states, work.now)
    chosen = decision.chosen[0] if decision.chosen else None
    if chosen is None:
        log.info(
            "dialog %d waits on line %d: %s",
            dialog.id,
            dialog.line_id,
            ", ".join(f"{c.operator_id}:{c.passed_over}" for c in decision.candidates),
        )
        return False
    operator = await work.session.get(Operator, chosen)
    assert operator is not None
    dialog.operator_id = chosen
    dialog.status = "open"
    dialog.assigned_at = work.now
    operator.last_assigned_at = work.now
    await work.session.flush()
    return True


async def assign_waiting(work: Batch, line_id: int) -> int:
    """Give the line's waiting dialogs out, oldest first, while someone can take them."""
    assigned = 0
    waiting = list(
        await work.session.scalars(
            select(Dialog)
            .where(Dialog.line_id == line_id, Dialog.status == "waiting")
            .order_by(Dialog.opened_at, Dialog.id)
        )
    )
    for dialog in waiting:
        if not await try_assign(work, dialog):
            break
        assigned += 1
        await work.announce_dialog(dialog)
    return assigned
