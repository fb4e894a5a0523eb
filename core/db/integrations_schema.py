"""Integrations: API tokens, outgoing event webhooks and the log of their deliveries.

Migration: ``0017_integrations``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.schema import BIG_ID, Base
from core.envelope import utcnow


class ApiToken(Base):
    """A named token an integration sends as ``Authorization: Bearer``; only its keyed hash
    is kept. It acts as the admin who created it, narrowed to ``scopes``."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """The token's first characters, shown so an admin can tell tokens apart."""
    scopes: Mapped[list[str]] = mapped_column(JSON)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Webhook(Base):
    """An endpoint that receives signed POSTs of the events it subscribes to."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    """The signing key; the receiver needs it as is, so it cannot be kept as a hash."""
    events: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(Base):
    """The delivery of one event to one webhook: its tries so far and the last answer."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
    )
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending`` (will be tried again), ``delivered`` or ``failed`` (given up)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[str] = mapped_column(Text, default="")
    """The start of the last answer, or the error when there was none."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)


__all__ = ["ApiToken", "Webhook", "WebhookAttempt"]
