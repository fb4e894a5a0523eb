"""Indexes for the reads that must not grow with the stored history: a line's waiting queue in
order, the active dialogs counted per operator and line, and the pending offers.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_dialogs_line_status_opened", "dialogs", ["line_id", "status", "opened_at", "id"]
    )
    op.create_index(
        "ix_dialogs_status_operator_line", "dialogs", ["status", "operator_id", "line_id"]
    )
    op.create_index(
        "ix_dialog_offers_state_operator", "dialog_offers", ["state", "operator_id", "dialog_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_dialog_offers_state_operator", table_name="dialog_offers")
    op.drop_index("ix_dialogs_status_operator_line", table_name="dialogs")
    op.drop_index("ix_dialogs_line_status_opened", table_name="dialogs")
