"""Reading a client's CRM state into the pure modules' plain values, and writing it back.

``load_client`` builds the ``MergeableClient`` that ``merge.py`` reasons about; ``do_apply``
makes the database say what such a value says, so a merge and an unmerge are each "compute
the states purely, then apply them". The caller owns the session and the transaction.

Ownership of links: dialogs, identities, leads and notes carry a ``client_id``. The router
creates clients and identities and sets a new dialog's client from its identity; only the
CRM sink ever changes which client owns an existing row (merges, unmerges, strong matches).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import loaded
from core.db.crm_schema import CrmContact, CrmLead, CrmNote, CrmProfile
from core.db.schema import Client, ClientIdentity, Dialog
from crm_sink.matching import ClientRecord
from crm_sink.merge import MergeableClient

PHONE = "phone"
EMAIL = "email"
SITE = "site"
_KIND_OF_SET = {"phones": PHONE, "emails": EMAIL}


NO_PROFILE = "clients without a CRM profile"
"""``session.info`` key: the clients whose lock (``crm_sink.locks``) found no profile, so the
profile is made without asking the database again."""


async def profile_of(
    session: AsyncSession, client_id: int, now: datetime, responsible_id: int | None = None
) -> CrmProfile:
    """The client's CRM profile, created empty the first time it is needed (with
    ``responsible_id`` as its responsible, so that setting one is not an UPDATE of its own)."""
    missing: set[int] = session.info.get(NO_PROFILE, set())
    profile = None if client_id in missing else await loaded.get(session, CrmProfile, client_id)
    if profile is None:
        profile = await loaded.stored(
            session,
            CrmProfile(
                client_id=client_id,
                custom_fields={},
                responsible_id=responsible_id,
                updated_at=now,
            ),
        )
        missing.discard(client_id)
    return profile


async def contacts_of(session: AsyncSession, client_id: int) -> list[CrmContact]:
    """Every contact row of a client, oldest first."""
    rows = await session.scalars(
        select(CrmContact).where(CrmContact.client_id == client_id).order_by(CrmContact.id)
    )
    return list(rows)


async def load_client(session: AsyncSession, client_id: int, now: datetime) -> MergeableClient:
    """The full mergeable state of a client as stored now."""
    client = await session.get(Client, client_id)
    if client is None:
        raise LookupError(f"client {client_id} does not exist")
    profile = await profile_of(session, client_id, now)
    contacts = await contacts_of(session, client_id)

    async def ids(model: type[Dialog | ClientIdentity | CrmLead | CrmNote]) -> frozenset[int]:
        rows = await session.scalars(select(model.id).where(model.client_id == client_id))
        return frozenset(rows)

    return MergeableClient(
        client_id=client_id,
        name=client.name,
        company=profile.company,
        responsible_id=profile.responsible_id,
        custom_fields={str(k): str(v) for k, v in profile.custom_fields.items()},
        phones=frozenset(c.value for c in contacts if c.kind == PHONE),
        emails=frozenset(c.value for c in contacts if c.kind == EMAIL),
        dialog_ids=await ids(Dialog),
        identity_ids=await ids(ClientIdentity),
        lead_ids=await ids(CrmLead),
        note_ids=await ids(CrmNote),
        updated_at=profile.updated_at,
    )


async def do_apply(
    session: AsyncSession, state: MergeableClient, donors: Iterable[int] = ()
) -> None:
    """Make the stored client equal to ``state``.

    Links named in ``state`` are moved to it from wherever they are. A phone or email the
    client lacks is copied from a ``donors`` client when one holds it (so it keeps its
    ``verified`` flag), otherwise added unverified; ones ``state`` lacks are removed. Site
    identities follow the identities they were presented by.
    """
    cid = state.client_id
    client = await session.get(Client, cid)
    assert client is not None
    client.name = state.name
    profile = await profile_of(session, cid, state.updated_at)
    profile.company = state.company
    profile.responsible_id = state.responsible_id
    profile.custom_fields = dict(state.custom_fields)
    profile.updated_at = state.updated_at
    for model, wanted in (
        (Dialog, state.dialog_ids),
        (ClientIdentity, state.identity_ids),
        (CrmLead, state.lead_ids),
        (CrmNote, state.note_ids),
    ):
        if wanted:
            await session.execute(update(model).where(model.id.in_(wanted)).values(client_id=cid))
    if state.identity_ids:
        await session.execute(
            update(CrmContact)
            .where(CrmContact.kind == SITE, CrmContact.identity_id.in_(state.identity_ids))
            .values(client_id=cid)
        )
    donor_ids = list(donors)
    for set_name, kind in _KIND_OF_SET.items():
        wanted_values: frozenset[str] = getattr(state, set_name)
        have = set(
            await session.scalars(
                select(CrmContact.value).where(CrmContact.client_id == cid, CrmContact.kind == kind)
            )
        )
        gone = have - wanted_values
        if gone:
            await session.execute(
                delete(CrmContact).where(
                    CrmContact.client_id == cid, CrmContact.kind == kind, CrmContact.value.in_(gone)
                )
            )
        for value in sorted(wanted_values - have):
            donor_row = None
            if donor_ids:
                donor_row = await session.scalar(
                    select(CrmContact)
                    .where(
                        CrmContact.client_id.in_(donor_ids),
                        CrmContact.kind == kind,
                        CrmContact.value == value,
                    )
                    .limit(1)
                )
            # Copied, not moved: the donor may keep the same value (a merge strips the
            # duplicate afterwards; an unmerge removes from main what main no longer has).
            session.add(
                CrmContact(
                    client_id=cid,
                    kind=kind,
                    value=value,
                    verified=donor_row.verified if donor_row is not None else False,
                    created_at=donor_row.created_at if donor_row is not None else state.updated_at,
                )
            )
    await session.flush()


async def do_strip(session: AsyncSession, client_id: int, into: int | None) -> None:
    """Empty a merged-away client's phones and emails and mark it merged into ``into``.

    Without this the shell would still hold the contacts that moved, and a strong key held
    by two clients matches neither.
    """
    await session.execute(
        delete(CrmContact).where(
            CrmContact.client_id == client_id, CrmContact.kind.in_((PHONE, EMAIL))
        )
    )
    profile = await session.get(CrmProfile, client_id)
    if profile is not None:
        profile.merged_into_id = into
    await session.flush()


async def owners_of(session: AsyncSession, kind: str, value: str) -> list[ClientRecord]:
    """Clients holding ``value`` as a verified contact, as matching records.

    Only verified rows count: a phone someone typed must never pull a verified owner's
    identity onto the typist's record.
    """
    client_ids = list(
        await session.scalars(
            select(CrmContact.client_id)
            .outerjoin(CrmProfile, CrmProfile.client_id == CrmContact.client_id)
            .where(
                CrmContact.kind == kind,
                CrmContact.value == value,
                CrmContact.verified.is_(True),
                CrmProfile.merged_into_id.is_(None),
            )
            .distinct()
        )
    )
    return [await record_of(session, cid, verified_only=True) for cid in client_ids]


async def record_of(
    session: AsyncSession, client_id: int, verified_only: bool = False
) -> ClientRecord:
    """A client as ``matching`` sees it."""
    client = await session.get(Client, client_id)
    assert client is not None
    profile = await session.get(CrmProfile, client_id)
    rows = [c for c in await contacts_of(session, client_id) if c.verified or not verified_only]
    dialogs = await session.scalar(
        select(func.count()).select_from(Dialog).where(Dialog.client_id == client_id)
    )
    leads = await session.scalar(
        select(func.count()).select_from(CrmLead).where(CrmLead.client_id == client_id)
    )
    return ClientRecord(
        client_id=client_id,
        name=client.name,
        company=profile.company if profile else "",
        phones=frozenset(c.value for c in rows if c.kind == PHONE),
        emails=frozenset(c.value for c in rows if c.kind == EMAIL),
        site_identities=frozenset(c.value for c in rows if c.kind == SITE),
        custom_fields={
            str(k): str(v) for k, v in (profile.custom_fields if profile else {}).items()
        },
        dialog_count=int(dialogs or 0),
        lead_count=int(leads or 0),
        updated_at=profile.updated_at if profile else client.updated_at,
    )
