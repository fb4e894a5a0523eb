"""The statistics' monthly first response counts (``stats_dialog_month_responses``), summed
from the daily ones.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.rollup import MONTH_KEY, backfill_months

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_dialog_month_responses",
        sa.Column("business", sa.Boolean(), nullable=False),
        sa.Column("grain", sa.String(8), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("in_hours", sa.SmallInteger(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("dialogs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*MONTH_KEY),
    )
    backfill_months(op.get_bind())


def downgrade() -> None:
    op.drop_table("stats_dialog_month_responses")
