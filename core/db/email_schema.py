"""Tables of the email connector: mailbox sync state and the mail it has seen or sent.

They live beside the shared schema on the same metadata (migration 0005) but only the email
connector and its admin API touch them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
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

from core.db.schema import BIG_ID, Base
from core.envelope import utcnow


class EmailMailboxState(Base):
    """How far one IMAP folder of one account has been read.

    UIDs mean something only together with the folder's UIDVALIDITY: when the server reports a
    different one, ``last_uid`` is void and the folder is read again from the start.
    """

    __tablename__ = "email_mailbox_state"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(255), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmailMail(Base):
    """One message by its RFC 5322 Message-ID: a client's mail we read, or a reply we sent.

    Outbound rows are the send's idempotency record (``message_id`` is our message) and the
    anchor that threads a client's answer back to its dialog; inbound rows keep the subject and
    References that our reply must continue.
    """

    __tablename__ = "email_mail"
    __table_args__ = (
        UniqueConstraint("channel_id", "rfc_message_id", name="uq_email_mail_channel_rfc"),
        Index("ix_email_mail_dialog", "dialog_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    rfc_message_id: Mapped[str] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(3))
    """``in`` or ``out``."""
    subject: Mapped[str] = mapped_column(Text, default="")
    references: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[int | None] = mapped_column(
        BIG_ID, ForeignKey("messages.id"), unique=True, default=None
    )
    dialog_id: Mapped[int | None] = mapped_column(ForeignKey("dialogs.id"), default=None)
    status: Mapped[str] = mapped_column(String(16), default="seen")
    """Inbound: ``seen``. Outbound: ``sending``, ``sent`` or ``failed``."""
    automatic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Inbound: sent by the client's software (an out-of-office, a list), not by a person."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
