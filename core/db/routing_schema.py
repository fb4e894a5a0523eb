"""Tables of the router's open-line routing: offers, colleagues in a dialog, and the audit.

They live beside ``schema`` on the same declarative base, so one Alembic environment and one
``compare_metadata`` check cover them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.schema import Base
from core.envelope import utcnow


class DialogOffer(Base):
    """A dialog offered to one operator: pending until taken, skipped, timed out or withdrawn."""

    __tablename__ = "dialog_offers"
    __table_args__ = (
        Index("ix_dialog_offers_dialog_state", "dialog_id", "state"),
        Index("ix_dialog_offers_operator_state", "operator_id", "state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    round: Mapped[int] = mapped_column(Integer)
    exclusive: Mapped[bool] = mapped_column(default=False)
    """An offer to one operator at a time (a sequential line): it counts towards their load."""
    state: Mapped[str] = mapped_column(String(16), default="pending")
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer_by: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class DialogParticipant(Base):
    """A colleague invited into a dialog, or a supervisor who joined it, until they leave."""

    __tablename__ = "dialog_participants"
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id"), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="invited")
    invited_by: Mapped[int | None] = mapped_column(Integer, default=None)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoutingAudit(Base):
    """One routing step of a dialog and why it happened: the console's routing audit."""

    __tablename__ = "routing_audit"
    __table_args__ = (Index("ix_routing_audit_dialog", "dialog_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id"))
    line_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(16))
    """assign, offer, take, skip, timeout, withdraw, wait, requeue, transfer, invite, join,
    leave, reject, close."""
    mode: Mapped[str | None] = mapped_column(String(16), default=None)
    operator_id: Mapped[int | None] = mapped_column(Integer, default=None)
    reason: Mapped[str] = mapped_column(String(64), default="")
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """Every operator considered, with why each was passed over (null when eligible)."""
    detail: Mapped[str] = mapped_column(Text, default="")
