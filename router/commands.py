"""Handlers of the routing commands and timers: read, ask a pure decision, apply its intents."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import streams
from core.db import loaded
from core.db.routing_schema import DialogParticipant
from core.db.schema import Dialog, Message, Operator
from core.envelope import (
    DialogTransferredForCrm,
    HiddenNote,
    InviteColleague,
    LeaveDialog,
    PresenceChange,
    RateDialog,
    SkipOffer,
    TakeOffer,
    TimerFired,
    TransferDialog,
)
from core.integration_events import dialog_event
from core.presence import status_after_grace, status_after_idle
from core.roles import READ_ONLY_ROLES, SUPERVISOR_ROLES
from router.actions import do_intents, do_presence, do_route_waiting, rating_controls
from router.audit import do_audit
from router.batch import Batch
from router.colleagues import decide_transfer_to_line, decide_transfer_to_operator
from router.decide import decide_offer_timeout, decide_skip, decide_take
from router.intents import Audit, Intent, Note, ReminderStage
from router.lifecycle import decide_close, decide_no_answer
from router.locks import lock_dialogs
from router.reads import load_policy, may_work_on, operator_states, snapshot
from router.reminders import decide_reminder
from router.snapshots import DialogSnapshot

log = logging.getLogger(__name__)


async def _dialog_and_operator(
    work: Batch, dialog_id: int, operator_id: int, what: str
) -> tuple[Dialog, Operator] | None:
    dialog = await loaded.get(work.session, Dialog, dialog_id)
    operator = await loaded.get(work.session, Operator, operator_id)
    if dialog is None or operator is None:
        log.error(
            "%s names dialog %d or operator %d that does not exist; dropped",
            what,
            dialog_id,
            operator_id,
        )
        return None
    await work.remember_audience(dialog)
    return dialog, operator


async def do_take(work: Batch, cmd: TakeOffer) -> None:
    """An operator takes a waiting dialog."""
    found = await _dialog_and_operator(work, cmd.dialog_id, cmd.operator_id, "take")
    if found is None:
        return
    dialog, _operator = found
    await do_intents(work, await _decide_take(work, dialog, cmd.operator_id))


async def take_refusal(
    session: AsyncSession, dialog_id: int, operator_id: int, now: datetime
) -> str | None:
    """Why a take of the dialog by ``operator_id`` would be refused now (the audit reason),
    None if it would go through.

    Read only: the console asks before it sends ``TakeOffer`` so the operator hears at once
    why a take fails instead of seeing nothing happen; the router decides again when the
    command arrives, which settles two takes racing for one dialog.
    """
    work = Batch(session, now)
    dialog = await loaded.get(session, Dialog, dialog_id)
    if dialog is None:
        return "closed"
    intents = await _decide_take(work, dialog, operator_id)
    return next((i.reason for i in intents if isinstance(i, Audit) and i.event == "reject"), None)


async def _decide_take(work: Batch, dialog: Dialog, operator_id: int) -> list[Intent]:
    policy = await load_policy(work, dialog.line_id)
    states = await operator_states(work, dialog.line_id)
    await lock_dialogs(work, [dialog])
    snap = await snapshot(work, dialog)
    return decide_take(snap, policy, states, operator_id, work.now)


async def do_skip(work: Batch, cmd: SkipOffer) -> None:
    """An operator passes on an offer or an unanswered dialog of theirs."""
    found = await _dialog_and_operator(work, cmd.dialog_id, cmd.operator_id, "skip")
    if found is None:
        return
    dialog, _operator = found
    line_id = dialog.line_id
    policy = await load_policy(work, line_id)
    states = await operator_states(work, line_id)
    await lock_dialogs(work, [dialog])
    snap = await snapshot(work, dialog)
    await do_intents(work, decide_skip(snap, policy, states, cmd.operator_id, work.now))
    # The skipper has room again for the line's other waiting dialogs.
    await do_route_waiting(work, line_id, "operator_freed")


async def do_transfer(work: Batch, cmd: TransferDialog) -> None:
    """Hand a dialog to another operator or line; history stays with the dialog."""
    found = await _dialog_and_operator(work, cmd.dialog_id, cmd.operator_id, "transfer")
    if found is None:
        return
    dialog, operator = found
    if not await may_work_on(work, dialog, operator):
        log.warning("operator %d may not transfer dialog %d; dropped", operator.id, dialog.id)
        return
    old_line, old_holder = dialog.line_id, dialog.operator_id
    decided = await _decide_transfer(work, dialog, operator, cmd)
    if decided is None:
        return
    intents, where = decided
    if any(getattr(i, "event", "") == "transfer" for i in intents):
        text = f"{operator.name} transferred the dialog to {where}"
        intents.append(Note(dialog.id, f"{text}: {cmd.comment}" if cmd.comment else text))
    await do_intents(work, intents)
    if dialog.operator_id is not None and dialog.operator_id != old_holder:
        # Published with the batch's other effects, so only after the transfer committed.
        work.emit(
            streams.CRM,
            DialogTransferredForCrm(
                dialog_id=dialog.id,
                client_id=dialog.client_id,
                line_id=dialog.line_id,
                from_operator_id=old_holder,
                to_operator_id=dialog.operator_id,
            ),
        )
    if dialog.operator_id != old_holder or dialog.line_id != old_line:
        moved = dialog_event(
            "dialog.transferred",
            dialog,
            work.now,
            f"transferred:{work.now.isoformat()}",
            from_operator_id=old_holder,
            from_line_id=old_line,
        )
        work.emit(streams.EVENTS, moved)
    if old_holder is not None and dialog.operator_id != old_holder:
        await do_route_waiting(work, old_line, "operator_freed")


async def _decide_transfer(
    work: Batch, dialog: Dialog, operator: Operator, cmd: TransferDialog
) -> tuple[list[Intent], str] | None:
    """The transfer's intents and the words naming where it goes; None when the target is
    unknown or missing."""
    if cmd.to_operator_id is not None:
        target = await loaded.get(work.session, Operator, cmd.to_operator_id)
        if target is None or target.role in READ_ONLY_ROLES:
            log.error(
                "transfer of dialog %d names operator %d, unknown or an analyst",
                dialog.id,
                cmd.to_operator_id,
            )
            return None
        takeover = target.id == operator.id and operator.role in SUPERVISOR_ROLES
        policy = await load_policy(work, dialog.line_id)
        states = await operator_states(work, dialog.line_id)
        snap = await _locked_snapshot(work, dialog)
        intents = decide_transfer_to_operator(
            snap, policy, states, target.id, work.now, takeover=takeover, comment=cmd.comment
        )
        return intents, target.name
    if cmd.to_line_id is not None:
        try:
            line = await work.line(cmd.to_line_id)
        except LookupError:
            log.error("transfer of dialog %d names unknown line %d", dialog.id, cmd.to_line_id)
            return None
        policy = await load_policy(work, line.id)
        states = await operator_states(work, line.id)
        snap = await _locked_snapshot(work, dialog)
        intents = decide_transfer_to_line(snap, policy, states, work.now, cmd.comment)
        return intents, f"line {line.name}"
    log.error("transfer of dialog %d names no target; dropped", dialog.id)
    return None


async def _locked_snapshot(work: Batch, dialog: Dialog) -> DialogSnapshot:
    """The routing view of a dialog re-read under its row lock (after its line's operators)."""
    await lock_dialogs(work, [dialog])
    return await snapshot(work, dialog)


async def do_invite(work: Batch, cmd: InviteColleague) -> None:
    """Bring a colleague into a dialog (a supervisor naming themselves joins it)."""
    found = await _dialog_and_operator(work, cmd.dialog_id, cmd.operator_id, "invite")
    if found is None:
        return
    dialog, operator = found
    colleague = await loaded.get(work.session, Operator, cmd.colleague_id)
    if colleague is None or colleague.role in READ_ONLY_ROLES or dialog.status == "closed":
        log.warning(
            "invite into dialog %d refused: closed, or unknown colleague or analyst", dialog.id
        )
        return
    joining = colleague.id == operator.id
    allowed = (
        (operator.role in SUPERVISOR_ROLES)
        if joining
        else await may_work_on(work, dialog, operator)
    )
    if not allowed or colleague.id == dialog.operator_id:
        log.warning(
            "operator %d may not invite %d into dialog %d", operator.id, colleague.id, dialog.id
        )
        return
    if await work.session.get(DialogParticipant, (dialog.id, colleague.id)) is not None:
        return  # already in: a redelivered command
    work.session.add(
        DialogParticipant(
            dialog_id=dialog.id,
            operator_id=colleague.id,
            role="supervisor" if joining else "invited",
            invited_by=operator.id,
            joined_at=work.now,
        )
    )
    event = "join" if joining else "invite"
    text = (
        f"{operator.name} joined the dialog"
        if joining
        else f"{operator.name} invited {colleague.name}"
    )
    _record(work, dialog, event, colleague.id)
    await do_intents(work, [Note(dialog.id, text)])


async def do_leave(work: Batch, cmd: LeaveDialog) -> None:
    """A colleague or supervisor leaves a dialog they were in."""
    found = await _dialog_and_operator(work, cmd.dialog_id, cmd.operator_id, "leave")
    if found is None:
        return
    dialog, operator = found
    result = await work.session.execute(
        delete(DialogParticipant).where(
            DialogParticipant.dialog_id == dialog.id, DialogParticipant.operator_id == operator.id
        )
    )
    if not getattr(result, "rowcount", 0):
        return
    _record(work, dialog, "leave", operator.id)
    await do_intents(work, [Note(dialog.id, f"{operator.name} left the dialog")])


async def do_note(work: Batch, cmd: HiddenNote) -> None:
    """Store a hidden message between colleagues: operators see it, the client never does."""
    found = await _dialog_and_operator(work, cmd.dialog_id, cmd.operator_id, "note")
    if found is None:
        return
    dialog, operator = found
    seen = await work.session.scalar(
        select(Message).where(
            Message.dialog_id == dialog.id, Message.client_msg_id == cmd.client_msg_id
        )
    )
    if seen is not None:
        await work.announce_message(dialog, seen)
        return
    if not await may_work_on(work, dialog, operator):
        log.warning("operator %d may not write in dialog %d; dropped", operator.id, dialog.id)
        return
    message = Message(
        dialog_id=dialog.id,
        channel_id=dialog.channel_id,
        author="operator",
        operator_id=operator.id,
        author_name=operator.name,
        text=cmd.text,
        client_msg_id=cmd.client_msg_id,
        hidden=True,
        created_at=work.now,
    )
    work.session.add(message)
    await work.session.flush()
    await work.announce_message(dialog, message)


async def do_rate(work: Batch, cmd: RateDialog) -> None:
    """Store the client's rating of a closed dialog (the first one counts)."""
    dialog = await loaded.get(work.session, Dialog, cmd.dialog_id)
    if dialog is None or dialog.status != "closed" or dialog.rating is not None:
        return
    dialog.rating = cmd.rating
    dialog.rating_comment = cmd.comment.strip() or None
    await work.session.flush()
    work.emit(
        streams.EVENTS,
        dialog_event("rating.received", dialog, work.now, "rating", rating=cmd.rating),
    )
    await work.announce_dialog(dialog)


async def do_timer(work: Batch, fired: TimerFired) -> None:
    """A routing timer came due."""
    kind = fired.key.split(":", 1)[0]
    payload = fired.payload
    if kind == "opening":
        await do_route_waiting(work, int(payload["line_id"] or 0), "line_opened")
        return
    if kind == "presence":
        await do_presence_timer(work, int(payload.get("operator_id") or 0))
        return
    if kind == "away":
        await do_away_timer(work, int(payload.get("operator_id") or 0))
        return
    dialog = await loaded.get(work.session, Dialog, int(payload.get("dialog_id") or 0))
    if dialog is None:
        log.info("timer %s names a dialog that is gone", fired.key)
        return
    policy = await load_policy(work, dialog.line_id)
    # Operators first, then the dialog: the order every routing path locks in (router/locks.py).
    routes = kind in ("offer", "noanswer")
    states = await operator_states(work, dialog.line_id) if routes else []
    snap = await _locked_snapshot(work, dialog)
    if kind == "offer":
        intents = decide_offer_timeout(
            snap,
            policy,
            states,
            int(payload["operator_id"] or 0),
            int(payload["round"] or 0),
            work.now,
        )
    elif kind == "noanswer":
        intents = decide_no_answer(snap, policy, states, work.now)
    elif kind == "remind":
        stage: ReminderStage = "manager" if payload.get("stage") == "manager" else "operator"
        answers = int(payload.get("answers") or 0)
        intents = decide_reminder(snap, policy, stage, answers, dialog.operator_messages, work.now)
    elif kind == "autoclose":
        controls = await rating_controls(work, dialog)
        closing = decide_close(snap, policy, "auto", rating_controls=controls)
        intents = closing if snap.status == "open" else []
    else:
        log.warning("timer %s has no handler", fired.key)
        return
    await do_intents(work, intents)


async def do_presence_timer(work: Batch, operator_id: int) -> None:
    """An operator's presence grace ran out: offline if no console socket of theirs is live.

    The timer is only a prompt to look: it is re-armed on every heartbeat and close, so it may
    fire while a socket is live (then nothing changes) and fires once more after the last one
    ends. Going offline takes the same path as the operator choosing it, so their pending
    offers pass on exactly as they would then.
    """
    operator = await loaded.get(work.session, Operator, operator_id)
    if operator is None or work.sockets is None:
        return
    live = await work.sockets.live(operator_id, work.now)
    status = status_after_grace(operator.status, live)
    if status is not None:
        log.info("operator %d has no console open after the grace: %s", operator_id, status)
        await do_presence(work, PresenceChange(operator_id=operator_id, status=status))


async def do_away_timer(work: Batch, operator_id: int) -> None:
    """An operator did nothing in the console for the auto-away time: online becomes away,
    through the same path as choosing it (their pending offers pass on)."""
    operator = await loaded.get(work.session, Operator, operator_id)
    if operator is None:
        return
    status = status_after_idle(operator.status)
    if status is not None:
        await do_presence(work, PresenceChange(operator_id=operator_id, status=status))


def _record(work: Batch, dialog: Dialog, event: str, operator_id: int) -> None:
    do_audit(work, Audit(dialog.id, dialog.line_id, event, operator_id=operator_id))
