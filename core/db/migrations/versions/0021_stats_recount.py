"""The lines whose dialogs' statistics figures are being counted again after their time zone
or working hours changed (``core/db/recount.py``).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_figure_recounts",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("after_dialog_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("line_id"),
    )


def downgrade() -> None:
    op.drop_table("stats_figure_recounts")
