"""The daily rollup of the statistics (``core/db/rollup_schema.py``), filled from the dialogs'
stored figures.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.rollup import backfill
from core.db.rollup_schema import KEY, SUMMED

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> list[sa.Column[int] | sa.Column[str]]:
    return [
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("in_hours", sa.SmallInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "stats_dialog_days",
        *_key(),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in SUMMED),
        sa.PrimaryKeyConstraint(*KEY),
    )
    op.create_table(
        "stats_dialog_day_responses",
        sa.Column("business", sa.Boolean(), nullable=False),
        *_key(),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("dialogs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("business", *KEY, "seconds"),
    )
    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("stats_dialog_day_responses")
    op.drop_table("stats_dialog_days")
