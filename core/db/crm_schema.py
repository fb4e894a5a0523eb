"""The CRM sink's own tables (built-in CRM). Only ``crm_sink`` writes them; the console reads them.

They hang off the shared ``clients``, ``client_identities`` and ``dialogs`` tables and live on
the same declarative base, so one metadata (and one Alembic history) covers the whole database.
Migration: ``0006_crm``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.schema import Base
from core.envelope import utcnow


class CrmProfile(Base):
    """What the CRM knows about a client beyond its name: one row per client.

    ``merged_into_id`` marks a client whose contents moved to another by a merge; such an
    empty shell is never matched or suggested, and comes back to life if the merge is undone.
    """

    __tablename__ = "crm_profiles"
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    company: Mapped[str] = mapped_column(String(255), default="")
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    key_client: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """A client the business keeps in touch with: the responsible operator's coverage counts
    whether each had a dialog in the period (migration ``0011_kpi``)."""
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmContact(Base):
    """A normalised phone, email or signed site identity of a client.

    ``verified`` is true only when a channel vouched for it (a Telegram contact share, an
    email dialog's sender, a signed site identity); only verified contacts match new
    identities automatically. A site identity belongs to the channel identity that presented
    it (``identity_id``) and follows that identity through merges.
    """

    __tablename__ = "crm_contacts"
    __table_args__ = (
        UniqueConstraint("client_id", "kind", "value", name="uq_crm_contact_client_value"),
        Index("ix_crm_contacts_kind_value", "kind", "value"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("client_identities.id"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmLead(Base):
    """A lead created for a dialog of an unknown client; ``source_dialog_id`` is unique, so a
    repeated dialog-opened event can never create a second lead."""

    __tablename__ = "crm_leads"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    source_dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id"), unique=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    channel_kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="new")
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmDialogLink(Base):
    """Which CRM record a dialog was attached to: a lead, or only the client's contact."""

    __tablename__ = "crm_dialog_links"
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id"), primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("crm_leads.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmNote(Base):
    """A note on a client's record. A transcript is a note with its dialog set; the unique
    ``dialog_id`` is what makes a twice-delivered close attach the transcript once."""

    __tablename__ = "crm_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("crm_leads.id"), default=None)
    kind: Mapped[str] = mapped_column(String(16), default="note")
    dialog_id: Mapped[int | None] = mapped_column(
        ForeignKey("dialogs.id"), unique=True, default=None
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmNotDuplicate(Base):
    """A pair an operator declared different people; ``low_id < high_id``."""

    __tablename__ = "crm_not_duplicates"
    low_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    high_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmMerge(Base):
    """One merge and everything needed to undo it (``record`` is a ``MergeRecord`` as JSON)."""

    __tablename__ = "crm_merges"
    id: Mapped[int] = mapped_column(primary_key=True)
    main_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    dup_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    reason: Mapped[str] = mapped_column(String(64))
    record: Mapped[str] = mapped_column(Text)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(default=None)
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)


class CrmExternalRef(Base):
    """What an external CRM adapter already did: (adapter, key) -> the id it got back.

    Keys are ours (``lead:<id>``, ``transcript:<dialog id>``); a redelivered event finds its
    key here and the adapter does nothing twice.
    """

    __tablename__ = "crm_external_refs"
    adapter: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmRequiredFields(Base):
    """The fields an admin requires on a line's clients, with the points each one earns."""

    __tablename__ = "crm_required_fields"
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    points: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """``{"phone": 10, "email": 5, "name": 2, "company": 5, "custom:inn": 10}``."""


class CrmPoints(Base):
    """Points an operator earned by filling a required field; once per client and field."""

    __tablename__ = "crm_points"
    __table_args__ = (UniqueConstraint("client_id", "field", name="uq_crm_points_client_field"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    field: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmCheck(Base):
    """An admin's completeness check over a line's clients."""

    __tablename__ = "crm_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmFillTask(Base):
    """One client of a check, given to one operator to complete. Whether it is done is read
    from the client's current fields, never stored, so it cannot go stale."""

    __tablename__ = "crm_fill_tasks"
    __table_args__ = (UniqueConstraint("check_id", "client_id", name="uq_crm_task_check_client"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("crm_checks.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    missing: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The fields missing when the check ran."""
