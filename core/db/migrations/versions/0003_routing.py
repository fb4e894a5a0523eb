"""Open-line routing: offers, dialog participants, routing audit, dialog statistics columns.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("lines") as batch:
        batch.add_column(
            sa.Column("source", sa.String(16), nullable=False, server_default="console")
        )
    with op.batch_alter_table("dialogs") as batch:
        batch.add_column(sa.Column("began_in_hours", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(16), nullable=True))
        batch.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rating_requested_at", _TS, nullable=True))
        for name in ("client_messages", "operator_messages", "offer_round"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_offered_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("wait_reason", sa.String(16), nullable=True))
    op.create_table(
        "dialog_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dialog_id", sa.Integer(), sa.ForeignKey("dialogs.id"), nullable=False),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("offered_at", _TS, nullable=False),
        sa.Column("answer_by", _TS, nullable=True),
        sa.Column("ended_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dialog_offers_dialog_state", "dialog_offers", ["dialog_id", "state"])
    op.create_index("ix_dialog_offers_operator_state", "dialog_offers", ["operator_id", "state"])
    op.create_table(
        "dialog_participants",
        sa.Column("dialog_id", sa.Integer(), sa.ForeignKey("dialogs.id"), nullable=False),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column("joined_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("dialog_id", "operator_id"),
    )
    op.create_table(
        "routing_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dialog_id", sa.Integer(), sa.ForeignKey("dialogs.id"), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_routing_audit_dialog", "routing_audit", ["dialog_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_routing_audit_dialog", "routing_audit")
    op.drop_table("routing_audit")
    op.drop_table("dialog_participants")
    op.drop_index("ix_dialog_offers_operator_state", "dialog_offers")
    op.drop_index("ix_dialog_offers_dialog_state", "dialog_offers")
    op.drop_table("dialog_offers")
    with op.batch_alter_table("dialogs") as batch:
        for name in (
            "wait_reason",
            "last_offered_id",
            "offer_round",
            "operator_messages",
            "client_messages",
            "rating_requested_at",
            "rating",
            "outcome",
            "began_in_hours",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("lines") as batch:
        batch.drop_column("source")
