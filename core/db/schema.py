"""The tables every component shares. Alembic migrations create them; see ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from core.envelope import utcnow


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite keeps no offset and hands back naive values; reading them as UTC here keeps every
    comparison in the code between aware datetimes, on SQLite and PostgreSQL alike.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
"""The id of a table that grows with traffic (messages, webhook deliveries, routing steps),
and what refers to it. PostgreSQL's INTEGER ends at 2 147 483 647: a busy hub would reach it
in years, and from then on nothing more could be stored there. SQLite's INTEGER PRIMARY KEY is
its 64-bit rowid already, and a key declared BIGINT there would not be the rowid."""


class Base(DeclarativeBase):
    """Declarative base of the shared schema."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), dict[str, Any]: JSON}


class Line(Base):
    """An open line: a queue of operators serving one or more channels."""

    __tablename__ = "lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    distribution: Mapped[str] = mapped_column(String(16), default="evenly")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(16), default="console")
    """``file``: defined in openlines.toml and read-only in the console; else ``console``."""


class Channel(Base):
    """One channel account (a bot, a group, a mailbox, a web chat) attached to one line."""

    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    """Public key: the web chat's ``data-channel``, a webhook path segment."""
    name: Mapped[str] = mapped_column(String(255))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InstallationSecret(Base):
    """A random value made once per installation (one database) and shared by its hubs,
    e.g. the key that spreads VK ``random_id`` values apart from another installation's."""

    __tablename__ = "installation_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class Operator(Base):
    """A console user: operator, manager or admin."""

    __tablename__ = "operators"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="operator")
    status: Mapped[str] = mapped_column(String(16), default="offline")
    max_open_dialogs: Mapped[int | None] = mapped_column(Integer, default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    """Where the weekly digest of their figures goes; None: no digest."""
    last_assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineOperator(Base):
    """An operator's place in a line's queue."""

    __tablename__ = "line_operators"
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    max_open_dialogs: Mapped[int | None] = mapped_column(Integer, default=None)


class Client(Base):
    """A person the business talks to, across all their channel identities."""

    __tablename__ = "clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    """The address a web chat visitor left in a form (their word, not verified): where an
    answer goes once they left the page."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientIdentity(Base):
    """A client's account on one channel: (channel, external user id) is unique."""

    __tablename__ = "client_identities"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id", name="uq_identity_channel_ext"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


STATS_INDEX_COLUMNS = (
    "line_id",
    "opened_at",
    "began_in_hours",
    "channel_id",
    "operator_id",
    "outcome",
    "rating",
    "client_messages",
    "operator_messages",
    "first_response_s",
    "business_frt_s",
    "duration_s",
    "opened_day",
    "opened_weekday",
    "opened_hour",
)
"""The covering index of the statistics, as migration 0012 made it."""

NO_FIGURE_LAST = {"asc": 2**31 - 1, "desc": -1}
"""What a dialog's missing figure is sorted as in the report, so that it comes last in
either order (above every real figure when ascending, below when descending)."""

SORTED_FIGURES = ("first_response_s", "duration_s", "rating")
"""The figures the report sorts by through an index each way (migration 0019)."""


def sort_index_expression(figure: str, order: str) -> str:
    """The expression of the report's sort by ``figure`` in ``order`` that its index holds."""
    return f"coalesce({figure}, {NO_FIGURE_LAST[order]})"


class Dialog(Base):
    """One conversation of a client on a line, from first message to close."""

    __tablename__ = "dialogs"
    __table_args__ = (
        Index("ix_dialogs_identity_status", "identity_id", "status"),
        Index("ix_dialogs_operator_status", "operator_id", "status"),
        Index("ix_dialogs_line_status", "line_id", "status"),
        # A line's waiting queue in order, and the active dialogs counted per operator and
        # line, without walking the closed ones (migration 0023).
        Index("ix_dialogs_line_status_opened", "line_id", "status", "opened_at", "id"),
        Index("ix_dialogs_status_operator_line", "status", "operator_id", "line_id"),
        # The statistics' date ranges and sorts (migration 0010).
        Index("ix_dialogs_opened_at", "opened_at", "id"),
        Index("ix_dialogs_last_message_at", "last_message_at", "id"),
        Index("ix_dialogs_line_opened", "line_id", "opened_at"),
        Index("ix_dialogs_channel_opened", "channel_id", "opened_at"),
        Index("ix_dialogs_operator_opened", "operator_id", "opened_at"),
        # Every column the summary and the charts read (migration 0012): a date range of the
        # lines in scope is read from the index alone, never from the table's rows.
        Index("ix_dialogs_line_figures", *STATS_INDEX_COLUMNS),
        # The report sorted by a figure, either way, is an index walk (migration 0019).
        *(
            Index(
                f"ix_dialogs_sort_{figure}_{order}",
                text(sort_index_expression(figure, order)),
                "id",
            )
            for figure in SORTED_FIGURES
            for order in NO_FIGURE_LAST
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("client_identities.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_by: Mapped[str | None] = mapped_column(String(16), default=None)
    previous_dialog_id: Mapped[int | None] = mapped_column(ForeignKey("dialogs.id"), default=None)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    began_in_hours: Mapped[bool | None] = mapped_column(Boolean, default=None)
    """Whether the line was within its working hours when the dialog opened."""
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    """Set on close: answered, missed, out_of_hours or client_left."""
    rating: Mapped[int | None] = mapped_column(Integer, default=None)
    rating_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    rating_comment: Mapped[str | None] = mapped_column(Text, default=None)
    """What the client wrote beside their rating."""
    client_messages: Mapped[int] = mapped_column(Integer, default=0)
    operator_messages: Mapped[int] = mapped_column(Integer, default=0)
    offer_round: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped on every distribution; a timer armed in an older round is stale."""
    last_offered_id: Mapped[int | None] = mapped_column(Integer, default=None)
    """Whom a sequential line offered the dialog to last: the next offer starts after them."""
    # Figures the statistics read, derived by core.dialog_figures and kept by the router.
    first_response_s: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_s: Mapped[int | None] = mapped_column(Integer, default=None)
    business_frt_s: Mapped[int | None] = mapped_column(Integer, default=None)
    opened_day: Mapped[str | None] = mapped_column(String(10), default=None)
    """The start's local date on the line, ``YYYY-MM-DD``."""
    opened_weekday: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    """The start's local weekday on the line, 0 for Monday."""
    opened_hour: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    wait_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    """Why a waiting dialog is not offered to anyone: nobody_eligible or out_of_hours."""


class Message(Base):
    """A message in a dialog. (channel, platform message id) is unique, and so is
    (dialog, client_msg_id) for messages whose sender retries with its own id."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id", name="uq_message_channel_ext"),
        UniqueConstraint("dialog_id", "client_msg_id", name="uq_message_dialog_client_msg"),
        Index("ix_messages_dialog_id", "dialog_id", "id"),
    )
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    author: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    author_name: Mapped[str] = mapped_column(String(255), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    client_msg_id: Mapped[str | None] = mapped_column(String(64), default=None)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    """A colleague-only note: shown to operators, never sent to the client."""
    delivery_status: Mapped[str | None] = mapped_column(String(16), default=None)
    """For our own messages: sent, delivered, seen or failed, as the platform reports."""
    delivery_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edits: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    """The earlier texts of a message its client changed, oldest first, each with the moment
    it was replaced (``core.envelope.TextEdit``); NULL for one never changed."""


class ConsoleSession(Base):
    """A logged-in console browser; the cookie holds a token whose SHA-256 is stored here."""

    __tablename__ = "console_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
