"""Reopening a closed dialog (``cmd.reopen``): who may, and the handler that does it.

The console asks the same questions before it publishes the command, so a refusal is heard at
once; the router asks them again when the command arrives, since things may have changed.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import loaded
from core.db.routing_schema import member_lines
from core.db.schema import Dialog, Operator
from core.envelope import ReopenDialog
from router.actions import do_intents
from router.batch import Batch
from router.intents import Note
from router.lifecycle import decide_reopen
from router.locks import lock_dialogs
from router.reads import load_policy, operator_states, snapshot
from router.snapshots import OPEN_STATUSES

log = logging.getLogger(__name__)


async def may_reopen(session: AsyncSession, dialog: Dialog, operator: Operator) -> bool:
    """Whether ``operator`` may reopen the dialog: an admin, or a manager of its line (in its
    queue directly or through a group)."""
    if operator.role == "admin":
        return True
    if operator.role != "manager":
        return False
    return dialog.line_id in set(await session.scalars(member_lines(operator.id)))


async def active_dialog(session: AsyncSession, dialog: Dialog) -> int | None:
    """The waiting or open dialog of the same client identity, if there is one: the client's
    new messages go there, so reopening another would split their conversation in two."""
    found: int | None = await session.scalar(
        select(Dialog.id)
        .where(Dialog.identity_id == dialog.identity_id, Dialog.status.in_(OPEN_STATUSES))
        .limit(1)
    )
    return found


async def do_reopen(work: Batch, cmd: ReopenDialog) -> None:
    """An admin, or a manager of the dialog's line, reopens a closed dialog."""
    dialog = await loaded.get(work.session, Dialog, cmd.dialog_id)
    operator = await loaded.get(work.session, Operator, cmd.operator_id)
    if dialog is None or operator is None:
        log.error(
            "reopen names dialog %d or operator %d that does not exist; dropped",
            cmd.dialog_id,
            cmd.operator_id,
        )
        return
    await work.remember_audience(dialog)
    if not await may_reopen(work.session, dialog, operator):
        log.warning("operator %d may not reopen dialog %d; dropped", operator.id, dialog.id)
        return
    if await active_dialog(work.session, dialog) is not None:
        log.warning("dialog %d not reopened: its client has an active dialog", dialog.id)
        return
    policy = await load_policy(work, dialog.line_id)
    states = await operator_states(work, dialog.line_id)
    await lock_dialogs(work, [dialog])
    intents = decide_reopen(await snapshot(work, dialog), policy, states, work.now, operator.id)
    if intents:
        intents.append(Note(dialog.id, f"{operator.name} reopened the dialog"))
    await do_intents(work, intents)
