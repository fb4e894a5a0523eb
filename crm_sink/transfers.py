"""The CRM side of a transfer: the client's responsible follows the dialog to its new operator.

Whether it does is the line's ``crm.change_responsible_on_transfer`` (default on). The lead
attached to the dialog (else the client's latest lead) and the contact's responsible
both move; a redelivered event finds them already moved and changes nothing. The client is
locked first (``crm_sink.locks``), so a transfer during a merge lands on the main client.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from core.db.crm_schema import CrmDialogLink, CrmLead
from core.db.schema import Dialog, Line
from core.envelope import DialogTransferredForCrm
from crm_sink.actions import CrmWork
from crm_sink.locks import lock_owner
from crm_sink.rules import line_crm_settings
from crm_sink.store import profile_of

log = logging.getLogger(__name__)


async def do_dialog_transferred(work: CrmWork, event: DialogTransferredForCrm) -> None:
    """Make the transfer's target the responsible of the client's lead and contact."""
    session = work.session
    dialog = await session.get(Dialog, event.dialog_id)
    line = await session.get(Line, event.line_id)
    if dialog is None or line is None:
        log.error(
            "dialog-transferred names dialog %d or line %d that do not exist",
            event.dialog_id,
            event.line_id,
        )
        return
    if not line_crm_settings(line.settings or {}).change_responsible_on_transfer:
        return
    # Held until commit, as every write of the sink for a client: a merge of this client
    # either waits for the move below, or has moved the dialog, lead and profile to the main
    # client by the time the lock is granted.
    owner = await lock_owner(session, dialog)
    profile = await profile_of(session, owner, work.now)
    if profile.merged_into_id is not None:
        profile = await profile_of(session, profile.merged_into_id, work.now)
    link = await session.get(CrmDialogLink, dialog.id)
    lead = None
    if link is not None and link.lead_id is not None:
        lead = await session.get(CrmLead, link.lead_id)
    if lead is None:
        lead = await session.scalar(
            select(CrmLead)
            .where(CrmLead.client_id == profile.client_id)
            .order_by(CrmLead.id.desc())
            .limit(1)
        )
    if lead is not None and lead.responsible_id != event.to_operator_id:
        lead.responsible_id = event.to_operator_id
        lead.updated_at = work.now
    if profile.responsible_id != event.to_operator_id:
        profile.responsible_id = event.to_operator_id
        profile.updated_at = work.now
    await session.flush()
