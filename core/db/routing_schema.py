"""Tables of the router's open-line routing: offers, colleagues in a dialog, the audit, and
groups of operators that a line's queue may hold.

They live beside ``schema`` on the same declarative base, so one Alembic environment and one
``compare_metadata`` check cover them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    select,
    union,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.schema import BIG_ID, Base, LineOperator
from core.envelope import utcnow


class DialogOffer(Base):
    """A dialog offered to one operator: pending until taken, skipped, timed out or withdrawn."""

    __tablename__ = "dialog_offers"
    __table_args__ = (
        Index("ix_dialog_offers_dialog_state", "dialog_id", "state"),
        Index("ix_dialog_offers_operator_state", "operator_id", "state"),
        # The pending offers among every offer ever made (migration 0023).
        Index("ix_dialog_offers_state_operator", "state", "operator_id", "dialog_id"),
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
    """One routing step of a dialog and why it happened: the console's routing audit. A change
    of a line's setup (``event`` "setup") is recorded too, with no dialog."""

    __tablename__ = "routing_audit"
    __table_args__ = (
        Index("ix_routing_audit_dialog", "dialog_id", "id"),
        Index("ix_routing_audit_line", "line_id", "id"),
    )
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    dialog_id: Mapped[int | None] = mapped_column(ForeignKey("dialogs.id"), default=None)
    line_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(16))
    """assign, offer, take, skip, timeout, withdraw, wait, requeue, transfer, invite, join,
    leave, reject, close; setup for a line's setup change (``reason`` says where it came from:
    "simulation" when applied from a what-if)."""
    mode: Mapped[str | None] = mapped_column(String(16), default=None)
    operator_id: Mapped[int | None] = mapped_column(Integer, default=None)
    reason: Mapped[str] = mapped_column(String(64), default="")
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """Every operator considered, with why each was passed over (null when eligible)."""
    detail: Mapped[str] = mapped_column(Text, default="")


class OperatorGroup(Base):
    """A named group of operators (a department in Bitrix24 terms) that a line's queue may
    hold as one entry: whoever is in the group when a dialog is routed is in the queue."""

    __tablename__ = "operator_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)


class OperatorGroupMember(Base):
    """An operator in a group."""

    __tablename__ = "operator_group_members"
    __table_args__ = (Index("ix_operator_group_members_operator", "operator_id"),)
    group_id: Mapped[int] = mapped_column(ForeignKey("operator_groups.id"), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), primary_key=True)


class SetupVersion(Base):
    """One row whose ``version`` changes with every committed change to what a line's routing
    is set up from: lines, channels, queues, groups, and operators' roles.

    Database triggers (migration 0024) write it, whichever process or connection changes
    those tables, so a reader that finds the value it last saw knows its copy of the setup
    still holds (``router.setup_cache``). Each change writes a new random value rather than
    a count: a value never comes back after a rollback or in another database.
    """

    __tablename__ = "setup_version"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)


class LineGroup(Base):
    """A group's place in a line's queue.

    ``position`` shares one order with ``line_operators.position``; ``max_open_dialogs``
    applies to each member reached through this entry, like a direct entry's limit.
    """

    __tablename__ = "line_groups"
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("operator_groups.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    max_open_dialogs: Mapped[int | None] = mapped_column(Integer, default=None)


def line_members(line_ids: Sequence[int]) -> Select[int, int]:
    """``(line_id, operator_id)`` for everyone in the queues of these lines, directly or
    through a group, in one query: who is told about a line's waiting dialogs."""
    direct = select(LineOperator.line_id, LineOperator.operator_id).where(
        LineOperator.line_id.in_(line_ids)
    )
    grouped = (
        select(LineGroup.line_id, OperatorGroupMember.operator_id)
        .join(OperatorGroupMember, OperatorGroupMember.group_id == LineGroup.group_id)
        .where(LineGroup.line_id.in_(line_ids))
    )
    both = union(direct, grouped).subquery()
    return select(both.c.line_id, both.c.operator_id)


def member_lines(operator_id: int | ColumnElement[int]) -> Select[int]:
    """The ids of the lines whose queue holds the operator, directly or through a group.

    A select (not a list) so callers can use it as a subquery in one round trip; the router,
    the console's visibility rule and the manager checks all mean the same membership.
    """
    direct = select(LineOperator.line_id).where(LineOperator.operator_id == operator_id)
    grouped = (
        select(LineGroup.line_id)
        .join(OperatorGroupMember, OperatorGroupMember.group_id == LineGroup.group_id)
        .where(OperatorGroupMember.operator_id == operator_id)
    )
    return select(union(direct, grouped).subquery().c.line_id)
