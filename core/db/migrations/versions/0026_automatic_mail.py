"""Whether a client's mail was sent by their software, not by them (RFC 3834), so that the
hub's own automatic replies never answer it.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, which SQLite does in place: a batch would copy the table.
    op.add_column(
        "email_mail",
        sa.Column("automatic", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # SQLite drops a column in place since 3.35; a batch would copy the table.
    op.drop_column("email_mail", "automatic")
