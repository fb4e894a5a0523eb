"""The earlier texts of a message its client changed (Telegram and VK let a client edit a
message they sent), oldest first; NULL for a message never changed.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, which SQLite does in place: a batch would copy the table.
    op.add_column("messages", sa.Column("edits", sa.JSON(), nullable=True))


def downgrade() -> None:
    # SQLite drops a column in place since 3.35; a batch would copy the table.
    op.drop_column("messages", "edits")
