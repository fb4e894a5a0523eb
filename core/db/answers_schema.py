"""Quick answers: saved replies an operator inserts with ``/`` in the reply box.

A personal answer belongs to one operator (``owner_id``); a shared one belongs to a line
(``line_id``) and is offered to everyone of that line. Exactly one of the two is set.
Migration: ``0009_answers_search``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.schema import Base
from core.envelope import utcnow

MAX_ANSWER_TITLE = 128
MAX_ANSWER_TEXT = 20_000


class QuickAnswer(Base):
    """A saved reply: personal (``owner_id``) or shared on a line (``line_id``)."""

    __tablename__ = "quick_answers"
    __table_args__ = (
        CheckConstraint(
            "(owner_id IS NULL) <> (line_id IS NULL)", name="ck_quick_answers_one_scope"
        ),
        Index("ix_quick_answers_owner", "owner_id"),
        Index("ix_quick_answers_line_title", "line_id", "title"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"), default=None)
    title: Mapped[str] = mapped_column(String(MAX_ANSWER_TITLE))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
