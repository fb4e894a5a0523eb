"""The CRM sink's writer: recognising clients, leads, transcripts, merges and unmerges.

Each ``do_*`` reads what it needs, asks a pure rule (``matching``, ``merge``, ``rules``) what to
do, and writes in the caller's transaction. Handlers are idempotent because the bus delivers at
least once: a repeated dialog-opened finds its link, a repeated close finds its transcript, and
both queue their push again so an external adapter that missed it the first time gets it.

Why the sink may move identities and dialogs between clients (tables the router writes): the
router only ever *creates* clients and identities and copies an identity's client onto a new
dialog; it never changes an existing row's client. The sink is the only code that does, so
there is one writer of ownership. A dialog the router opens with an identity's old client in
the same instant as a merge moves that identity is corrected when its dialog-opened event
arrives here (``_attach_dialog`` re-reads the identity's client). A merge and the sink's
writes for the same client take turns on the client's row (``crm_sink.locks``): a lead or
transcript written meanwhile is either seen and moved by the merge, or written on the main.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import loaded
from core.db.crm_schema import (
    CrmContact,
    CrmDialogLink,
    CrmLead,
    CrmMerge,
    CrmNotDuplicate,
    CrmNote,
    CrmProfile,
)
from core.db.loaded import adopt
from core.db.on_cursor import core_rows
from core.db.schema import Channel, Client, ClientIdentity, Dialog, Line
from core.envelope import (
    ClientHintsForCrm,
    DialogClosedForCrm,
    DialogOpenedForCrm,
    IntegrationEvent,
)
from core.integration_events import integration_event
from crm_sink.locks import lock_clients, lock_owner
from crm_sink.matching import match_strong
from crm_sink.merge import apply_unmerge, choose_main, plan_merge
from crm_sink.merge_record import record_from_json, record_to_json
from crm_sink.pushes import LeadPush, Push, TranscriptPush
from crm_sink.rules import contact_hints, line_crm_settings
from crm_sink.store import contacts_of, do_apply, do_strip, load_client, owners_of, profile_of
from crm_sink.transcripts import transcript_body, transcript_key

log = logging.getLogger(__name__)


class CrmConflict(Exception):
    """A merge or unmerge that the current state does not allow (shown to the user as 409)."""


@dataclass
class CrmWork:
    """One transaction of the sink: the session, the time, and pushes to send after commit."""

    session: AsyncSession
    now: datetime
    phone_region: str | None = None
    pushes: list[Push] = field(default_factory=list)
    pushing: bool = True
    """Whether an external CRM takes the pushes; without one, nothing is read to build them."""
    events: list[IntegrationEvent] = field(default_factory=list)
    """Events for integrations, published on the ``events`` stream after commit."""


async def responsible_of(session: AsyncSession, client_id: int) -> int | None:
    """The client's CRM responsible operator, for routing a returning client to them.

    The contact's responsible, else the responsible of the client's latest lead; None when
    the CRM knows none. Follows a merge: a merged-away client answers for its main client.
    """
    profile = await session.get(CrmProfile, client_id)
    if profile is not None and profile.merged_into_id is not None:
        profile = await session.get(CrmProfile, profile.merged_into_id)
    if profile is None:
        return None
    if profile.responsible_id is not None:
        return profile.responsible_id
    return await session.scalar(
        select(CrmLead.responsible_id)
        .where(CrmLead.client_id == profile.client_id, CrmLead.responsible_id.is_not(None))
        .order_by(CrmLead.id.desc())
        .limit(1)
    )


async def do_hints(work: CrmWork, event: ClientHintsForCrm) -> None:
    """Store what a channel said about a client; on a verified strong key held by exactly one
    other client, merge the two (recorded, so it can be undone)."""
    session = work.session
    identity = await loaded.get(session, ClientIdentity, event.identity_id)
    channel = await loaded.get(session, Channel, event.channel_id)
    if identity is None or channel is None:
        log.error(
            "hints name identity %d or channel %d that do not exist",
            event.identity_id,
            event.channel_id,
        )
        return
    for hint in contact_hints(event.hints, channel.kind, channel.id, work.phone_region):
        client_id = identity.client_id  # re-read: an earlier hint may have merged it
        if hint.strong is not None:
            owner = match_strong(hint.strong, await owners_of(session, hint.kind, hint.value))
            if owner is not None and owner != client_id:
                merge = await do_merge(work, owner, client_id, None, f"strong:{hint.strong.kind}")
                client_id = merge.main_id
        await _add_contact(
            work,
            client_id,
            hint.kind,
            hint.value,
            hint.strong is not None,
            identity.id if hint.kind == "site" else None,
        )
    client = await loaded.get(session, Client, identity.client_id)
    if client is not None and not client.name.strip() and event.hints.name.strip():
        client.name = event.hints.name.strip()[:255]


async def _add_contact(
    work: CrmWork, client_id: int, kind: str, value: str, verified: bool, identity_id: int | None
) -> None:
    session = work.session
    row = await session.scalar(
        select(CrmContact).where(
            CrmContact.client_id == client_id, CrmContact.kind == kind, CrmContact.value == value
        )
    )
    if row is None:
        session.add(
            CrmContact(
                client_id=client_id,
                kind=kind,
                value=value,
                verified=verified,
                identity_id=identity_id,
                created_at=work.now,
            )
        )
        profile = await profile_of(session, client_id, work.now)
        profile.updated_at = work.now
    elif verified and not row.verified:
        row.verified = True
    await session.flush()


async def do_dialog_opened(work: CrmWork, event: DialogOpenedForCrm) -> None:
    """Attach a new dialog to the client's lead or contact; a first dialog of an unknown
    client creates a lead when the line says so, with the operator as responsible."""
    dialog = await loaded.get(work.session, Dialog, event.dialog_id)
    if dialog is None:
        log.error("dialog-opened names dialog %d, which does not exist", event.dialog_id)
        return
    link = await _attach_dialog(work, dialog)
    await _follow_operator(work, dialog, link)
    await _queue_lead_push(work, link, dialog)


async def _attach_dialog(work: CrmWork, dialog: Dialog) -> CrmDialogLink:
    session = work.session
    # The client is locked until commit, so a merge of it waits for what is written here
    # (lead, link, transcript), or has moved the row by the time the lock is granted.
    link = await loaded.get(session, CrmDialogLink, dialog.id)
    if link is not None:
        await lock_owner(session, dialog)
        return link
    identity = await loaded.get(session, ClientIdentity, dialog.identity_id)
    assert identity is not None
    owner = await lock_owner(session, identity)
    if dialog.client_id != owner:
        dialog.client_id = owner  # moved by a merge while the router opened it
    # A new profile starts with the dialog's operator as responsible, as an existing one
    # without a responsible is given them below.
    profile = await profile_of(session, dialog.client_id, work.now, dialog.operator_id)
    lead = await _latest_lead(session, dialog.client_id)
    known = lead is not None or bool(
        await core_rows(session, _a_linked_dialog(), {"client_id": dialog.client_id})
    )
    line = await loaded.get(session, Line, dialog.line_id)
    assert line is not None
    if lead is None and not known and line_crm_settings(line.settings).create_lead:
        channel = await loaded.get(session, Channel, dialog.channel_id)
        client = await loaded.get(session, Client, dialog.client_id)
        assert channel is not None and client is not None
        lead = await loaded.stored(
            session,
            CrmLead(
                client_id=dialog.client_id,
                source_dialog_id=dialog.id,
                line_id=line.id,
                channel_kind=channel.kind,
                title=f"{channel.kind} · {line.name}: {client.name or 'new client'}"[:255],
                responsible_id=dialog.operator_id,
                created_at=work.now,
                updated_at=work.now,
            ),
        )
    link = await loaded.stored(
        session,
        CrmDialogLink(dialog_id=dialog.id, lead_id=lead.id if lead else None, created_at=work.now),
    )
    if profile.responsible_id is None and dialog.operator_id is not None:
        profile.responsible_id = dialog.operator_id
    return link


async def _follow_operator(work: CrmWork, dialog: Dialog, link: CrmDialogLink) -> None:
    """Give the lead a responsible, and move it to the dialog's current operator after a
    transfer when the line says so."""
    if dialog.operator_id is None or link.lead_id is None:
        return
    lead = await loaded.get(work.session, CrmLead, link.lead_id)
    assert lead is not None
    if lead.responsible_id == dialog.operator_id:
        return
    line = await loaded.get(work.session, Line, dialog.line_id)
    assert line is not None
    if lead.responsible_id is None or (
        lead.source_dialog_id == dialog.id
        and line_crm_settings(line.settings).change_responsible_on_transfer
    ):
        lead.responsible_id = dialog.operator_id
        lead.updated_at = work.now
        profile = await profile_of(work.session, lead.client_id, work.now)
        profile.responsible_id = dialog.operator_id


async def _queue_lead_push(work: CrmWork, link: CrmDialogLink, dialog: Dialog) -> None:
    if not work.pushing or link.lead_id is None:
        return
    lead = await loaded.get(work.session, CrmLead, link.lead_id)
    assert lead is not None
    if lead.source_dialog_id != dialog.id:
        return
    line = await loaded.get(work.session, Line, lead.line_id)
    client = await loaded.get(work.session, Client, lead.client_id)
    assert line is not None and client is not None
    contacts = await contacts_of(work.session, lead.client_id)
    work.pushes.append(
        LeadPush(
            key=f"lead:{lead.id}",
            lead_id=lead.id,
            client_id=lead.client_id,
            title=lead.title,
            client_name=client.name,
            phones=tuple(c.value for c in contacts if c.kind == "phone"),
            emails=tuple(c.value for c in contacts if c.kind == "email"),
            channel_kind=lead.channel_kind,
            line_id=line.id,
            line_name=line.name,
            responsible_id=lead.responsible_id,
            created_at=lead.created_at,
        )
    )


async def do_dialog_closed(work: CrmWork, event: DialogClosedForCrm) -> None:
    """Attach the closed dialog's transcript to the client's record, once: client and operator
    messages with attachments as links, colleagues' hidden messages left out."""
    session = work.session
    dialog = await loaded.get(session, Dialog, event.dialog_id)
    if dialog is None:
        log.error("dialog-closed names dialog %d, which does not exist", event.dialog_id)
        return
    link = await _attach_dialog(work, dialog)
    await _follow_operator(work, dialog, link)
    note = await session.scalar(select(CrmNote).where(CrmNote.dialog_id == dialog.id))
    closed_at = dialog.closed_at.isoformat() if dialog.closed_at else ""
    if note is None:
        note = CrmNote(
            client_id=dialog.client_id,
            lead_id=link.lead_id,
            kind="transcript",
            dialog_id=dialog.id,
            created_at=work.now,
            body=await transcript_body(session, dialog.id, closed_at, closes=1),
        )
        session.add(note)
        await session.flush()
    elif note.body.get("closed_at", closed_at) != closed_at:
        # Reopened and closed again: the record gets the whole conversation as it now stands,
        # under a key of its own so that an adapter adds it rather than finding it done.
        closes = int(note.body.get("closes", 1)) + 1
        note.body = await transcript_body(session, dialog.id, closed_at, closes)
        note.created_at = work.now
        await session.flush()
    if not work.pushing:
        return
    contacts = await contacts_of(session, note.client_id)
    work.pushes.append(
        TranscriptPush(
            key=transcript_key(dialog.id, int(note.body.get("closes", 1))),
            dialog_id=dialog.id,
            client_id=note.client_id,
            lead_id=note.lead_id,
            phones=tuple(c.value for c in contacts if c.kind == "phone"),
            emails=tuple(c.value for c in contacts if c.kind == "email"),
            text=str(note.body.get("text", "")),
            messages=tuple(note.body.get("messages", [])),
        )
    )


async def do_merge(
    work: CrmWork, a_id: int, b_id: int, operator_id: int | None, reason: str
) -> CrmMerge:
    """Merge two clients by the rules of ``merge.py`` and store the record that undoes it."""
    session = work.session
    await lock_clients(session, (a_id, b_id))
    for cid in (a_id, b_id):
        profile = await profile_of(session, cid, work.now)
        if profile.merged_into_id is not None:
            raise CrmConflict(f"client {cid} was merged into {profile.merged_into_id}")
    main, dup = choose_main(
        await load_client(session, a_id, work.now), await load_client(session, b_id, work.now)
    )
    record = plan_merge(main, dup, at=work.now)
    await do_apply(session, record.merged, donors=[dup.client_id])
    await do_strip(session, dup.client_id, into=main.client_id)
    merge = CrmMerge(
        main_id=main.client_id,
        dup_id=dup.client_id,
        reason=reason,
        record=record_to_json(record),
        operator_id=operator_id,
        created_at=work.now,
    )
    session.add(merge)
    await session.flush()
    log.info("client %d merged into %d (%s)", dup.client_id, main.client_id, reason)
    work.events.append(_merge_event("client.merged", merge, work.now))
    return merge


async def do_unmerge(work: CrmWork, merge_id: int, operator_id: int | None) -> CrmMerge:
    """Undo a merge: both clients as they were, what was added to main since stays on main."""
    session = work.session
    merge = await session.get(CrmMerge, merge_id)
    if merge is None:
        raise LookupError(f"merge {merge_id} does not exist")
    await lock_clients(session, (merge.main_id, merge.dup_id))
    await session.refresh(merge)  # another undo may have committed while this one waited
    if merge.undone_at is not None:
        raise CrmConflict("this merge was already undone")
    main_profile = await profile_of(session, merge.main_id, work.now)
    if main_profile.merged_into_id is not None:
        raise CrmConflict(f"client {merge.main_id} was merged again since; undo that first")
    record = record_from_json(merge.record)
    main, dup = apply_unmerge(record, await load_client(session, merge.main_id, work.now))
    dup_profile = await profile_of(session, merge.dup_id, work.now)
    dup_profile.merged_into_id = None
    await do_apply(session, dup, donors=[main.client_id])
    await do_apply(session, main)
    merge.undone_at = work.now
    merge.undone_by = operator_id
    await session.flush()
    work.events.append(_merge_event("client.unmerged", merge, work.now))
    return merge


def _merge_event(
    name: Literal["client.merged", "client.unmerged"], merge: CrmMerge, at: datetime
) -> IntegrationEvent:
    data = {"merge_id": merge.id, "client_id": merge.main_id, "merged_client_id": merge.dup_id}
    return integration_event(name, str(merge.id), at, data)


async def do_not_duplicate(work: CrmWork, a_id: int, b_id: int, operator_id: int | None) -> None:
    """Remember that two clients are different people, so they are not suggested again."""
    low, high = sorted((a_id, b_id))
    if await work.session.get(CrmNotDuplicate, (low, high)) is None:
        work.session.add(
            CrmNotDuplicate(low_id=low, high_id=high, operator_id=operator_id, created_at=work.now)
        )
        await work.session.flush()


_LEAD = loaded.shape(CrmLead)


async def _latest_lead(session: AsyncSession, client_id: int) -> CrmLead | None:
    """The client's newest lead, read on the cursor."""
    rows = await core_rows(session, _latest_lead_statement(), {"client_id": client_id})
    return adopt(session.sync_session, _LEAD, rows[0]) if rows else None


@cache
def _latest_lead_statement() -> Any:
    c = CrmLead.__table__.c
    return (
        select(*_LEAD.columns)
        .where(c.client_id == bindparam("client_id"))
        .order_by(c.id.desc())
        .limit(1)
    )


@cache
def _a_linked_dialog() -> Any:
    """One dialog of the client bound as ``client_id`` that is linked in the CRM, if any."""
    links, dialogs = CrmDialogLink.__table__.c, Dialog.__table__.c
    return (
        select(links.dialog_id)
        .join_from(CrmDialogLink.__table__, Dialog.__table__, dialogs.id == links.dialog_id)
        .where(dialogs.client_id == bindparam("client_id"))
        .limit(1)
    )
