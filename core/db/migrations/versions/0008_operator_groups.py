"""Groups of operators, and groups as entries of a line's queue.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "operator_group_members",
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("operator_groups.id"), nullable=False),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "operator_id"),
    )
    op.create_index("ix_operator_group_members_operator", "operator_group_members", ["operator_id"])
    op.create_table(
        "line_groups",
        sa.Column("line_id", sa.Integer(), sa.ForeignKey("lines.id"), nullable=False),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("operator_groups.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("max_open_dialogs", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("line_id", "group_id"),
    )


def downgrade() -> None:
    op.drop_table("line_groups")
    op.drop_index("ix_operator_group_members_operator", "operator_group_members")
    op.drop_table("operator_group_members")
    op.drop_table("operator_groups")
