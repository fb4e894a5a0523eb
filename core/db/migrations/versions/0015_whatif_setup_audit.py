"""The routing audit records line setup changes too (one applied from a what-if simulation):
such a record belongs to a line and to no dialog.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("routing_audit") as batch:
        batch.alter_column("dialog_id", existing_type=sa.Integer(), nullable=True)
        batch.create_index("ix_routing_audit_line", ["line_id", "id"])


def downgrade() -> None:
    op.execute("DELETE FROM routing_audit WHERE dialog_id IS NULL")
    with op.batch_alter_table("routing_audit") as batch:
        batch.drop_index("ix_routing_audit_line")
        batch.alter_column("dialog_id", existing_type=sa.Integer(), nullable=False)
