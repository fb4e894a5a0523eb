"""Reads of the built-in CRM for the console: who may see a client, the client card, duplicate
suggestions, required fields and what a client misses. Nothing here writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audience import visible_dialogs
from core.db.crm_schema import (
    CrmContact,
    CrmDialogLink,
    CrmLead,
    CrmMerge,
    CrmNotDuplicate,
    CrmNote,
    CrmProfile,
    CrmRequiredFields,
)
from core.db.schema import Channel, Client, ClientIdentity, Dialog, Operator
from core.roles import SUPERVISOR_ROLES
from crm_sink.contacts import is_generated_name, normalize_name
from crm_sink.matching import DuplicateSuggestion, find_duplicates
from crm_sink.rules import missing_fields
from crm_sink.store import EMAIL, PHONE, record_of

CANDIDATE_LIMIT = 200
# How a person names each channel kind; an unknown kind shows as it is stored.
_KIND_NAMES = {
    "telegram": "Telegram",
    "vk": "VK",
    "viber": "Viber",
    "webchat": "Web chat",
    "email": "Email",
}


def identity_label(kind: str, display_name: str, external_id: str) -> str:
    """An identity as a person reads it: "Telegram Ivan", "Email a@b.ru", "Web chat".

    An email identity is its address; a web chat visitor has no name worth showing beyond the
    made-up one; other channels show the name the platform gave, when there is a real one.
    """
    kind_name = _KIND_NAMES.get(kind, kind)
    if kind == "email":
        return f"{kind_name} {external_id}".strip()
    name = display_name.strip()
    if kind == "webchat" or is_generated_name(name):
        return kind_name
    return f"{kind_name} {name}"


async def may_see_client(session: AsyncSession, operator: Operator, client_id: int) -> bool:
    """Supervisors see every client; an operator sees the clients of dialogs they may see in
    their list (``core.audience.visible_dialogs``) and the clients they are responsible for."""
    if operator.role in SUPERVISOR_ROLES:
        return True
    query = select(Dialog.id).where(Dialog.client_id == client_id)
    rule = visible_dialogs(operator.id, operator.role)
    dialog = await session.scalar((query if rule is None else query.where(rule)).limit(1))
    if dialog is not None:
        return True
    profile = await session.get(CrmProfile, client_id)
    return profile is not None and profile.responsible_id == operator.id


async def required_for(session: AsyncSession, client_id: int) -> dict[str, int]:
    """Required fields and their points on the line of the client's latest dialog."""
    line_id = await session.scalar(
        select(Dialog.line_id)
        .where(Dialog.client_id == client_id)
        .order_by(Dialog.opened_at.desc(), Dialog.id.desc())
        .limit(1)
    )
    if line_id is None:
        return {}
    rules = await session.get(CrmRequiredFields, line_id)
    return {str(k): int(v) for k, v in (rules.points if rules else {}).items()}


async def missing_of(session: AsyncSession, client_id: int, required: dict[str, int]) -> list[str]:
    """The required fields this client leaves empty now."""
    if not required:
        return []
    client = await session.get(Client, client_id)
    assert client is not None
    profile = await session.get(CrmProfile, client_id)
    contacts = await session.scalars(select(CrmContact).where(CrmContact.client_id == client_id))
    rows = list(contacts)
    return missing_fields(
        required,
        name=client.name,
        company=profile.company if profile else "",
        phones={c.value for c in rows if c.kind == PHONE},
        emails={c.value for c in rows if c.kind == EMAIL},
        custom_fields=profile.custom_fields if profile else {},
    )


async def duplicates_of(session: AsyncSession, client_id: int) -> list[DuplicateSuggestion]:
    """Duplicate suggestions for a client, with reasons.

    Candidates are the clients sharing a phone or email with it, and those whose name holds
    its longest name word; ``find_duplicates`` then decides and explains. Merged-away shells
    and pairs marked "not a duplicate" are never suggested.
    """
    me = await record_of(session, client_id)
    values = list(me.phones | me.emails)
    candidates: set[int] = set()
    if values:
        candidates |= set(
            await session.scalars(
                select(CrmContact.client_id)
                .where(CrmContact.value.in_(values), CrmContact.kind.in_((PHONE, EMAIL)))
                .limit(CANDIDATE_LIMIT)
            )
        )
    words = sorted(normalize_name(me.name).split(), key=len, reverse=True)
    if len(words) >= 2 and len(words[0]) >= 3:
        raw_word = next((w for w in me.name.split() if normalize_name(w) == words[0]), words[0])
        candidates |= set(
            await session.scalars(
                select(Client.id).where(Client.name.ilike(f"%{raw_word}%")).limit(CANDIDATE_LIMIT)
            )
        )
    candidates.discard(client_id)
    if not candidates:
        return []
    shells = set(
        await session.scalars(
            select(CrmProfile.client_id).where(
                CrmProfile.client_id.in_(candidates), CrmProfile.merged_into_id.is_not(None)
            )
        )
    )
    others = [await record_of(session, cid) for cid in sorted(candidates - shells)]
    pairs = await session.execute(
        select(CrmNotDuplicate.low_id, CrmNotDuplicate.high_id).where(
            or_(CrmNotDuplicate.low_id == client_id, CrmNotDuplicate.high_id == client_id)
        )
    )
    not_dups = frozenset(frozenset((a, b)) for a, b in pairs.all())
    return find_duplicates(me, others, not_dups)


def suggestion_json(suggestion: DuplicateSuggestion, names: dict[int, str]) -> dict[str, Any]:
    """A suggestion as the console shows it."""
    return {
        "client_id": suggestion.client_id,
        "other_id": suggestion.other_id,
        "other_name": names.get(suggestion.other_id, ""),
        "strength": suggestion.strength,
        "fields": list(suggestion.fields),
        "reasons": [m.reason for m in suggestion.matches],
    }


async def client_card(session: AsyncSession, client_id: int) -> dict[str, Any] | None:
    """Everything the console's client card shows, or None for an unknown client."""
    client = await session.get(Client, client_id)
    if client is None:
        return None
    profile = await session.get(CrmProfile, client_id)
    contacts = list(
        await session.scalars(
            select(CrmContact).where(CrmContact.client_id == client_id).order_by(CrmContact.id)
        )
    )
    identities = (
        await session.execute(
            select(ClientIdentity, Channel)
            .join(Channel, Channel.id == ClientIdentity.channel_id)
            .where(ClientIdentity.client_id == client_id)
            .order_by(ClientIdentity.id)
        )
    ).all()
    leads = list(
        await session.scalars(
            select(CrmLead).where(CrmLead.client_id == client_id).order_by(CrmLead.id)
        )
    )
    merges = list(
        await session.scalars(
            select(CrmMerge)
            .where(or_(CrmMerge.main_id == client_id, CrmMerge.dup_id == client_id))
            .order_by(CrmMerge.id.desc())
        )
    )
    transcripts = list(
        await session.scalars(
            select(CrmNote.dialog_id)
            .where(CrmNote.client_id == client_id, CrmNote.kind == "transcript")
            .order_by(CrmNote.id)
        )
    )
    required = await required_for(session, client_id)
    missing = await missing_of(session, client_id, required)
    return {
        "id": client.id,
        "name": client.name,
        "name_generated": is_generated_name(client.name),
        "company": profile.company if profile else "",
        "custom_fields": dict(profile.custom_fields) if profile else {},
        "responsible_id": profile.responsible_id if profile else None,
        "key_client": profile.key_client if profile else False,
        "merged_into_id": profile.merged_into_id if profile else None,
        "phones": [{"value": c.value, "verified": c.verified} for c in contacts if c.kind == PHONE],
        "emails": [{"value": c.value, "verified": c.verified} for c in contacts if c.kind == EMAIL],
        "identities": [
            {
                "id": i.id,
                "channel_kind": ch.kind,
                "channel": ch.name,
                "name": i.display_name,
                "label": identity_label(ch.kind, i.display_name, i.external_id),
            }
            for i, ch in identities
        ],
        "leads": [
            {
                "id": lead.id,
                "title": lead.title,
                "status": lead.status,
                "source": {"channel": lead.channel_kind, "line_id": lead.line_id},
                "responsible_id": lead.responsible_id,
                "created_at": lead.created_at.isoformat(),
            }
            for lead in leads
        ],
        "transcript_dialog_ids": transcripts,
        "missing": [{"field": f, "points": required.get(f, 0)} for f in missing],
        "merges": [
            {
                "id": m.id,
                "main_id": m.main_id,
                "dup_id": m.dup_id,
                "reason": m.reason,
                "at": m.created_at.isoformat(),
                "undone": m.undone_at is not None,
            }
            for m in merges
        ],
    }


async def dialog_client(session: AsyncSession, dialog_id: int) -> int | None:
    """The client a dialog belongs to now."""
    return await session.scalar(select(Dialog.client_id).where(Dialog.id == dialog_id))


async def dialog_lead(session: AsyncSession, dialog_id: int) -> int | None:
    """The lead a dialog was attached to, if any."""
    return await session.scalar(
        select(CrmDialogLink.lead_id).where(CrmDialogLink.dialog_id == dialog_id)
    )
