"""Indexes behind the statistics: date ranges per line, channel and operator, and the sorts of
the dialog report (start, last activity). See ``operator_console/stats``.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_dialogs_opened_at", ["opened_at", "id"]),
    ("ix_dialogs_last_message_at", ["last_message_at", "id"]),
    ("ix_dialogs_line_opened", ["line_id", "opened_at"]),
    ("ix_dialogs_channel_opened", ["channel_id", "opened_at"]),
    ("ix_dialogs_operator_opened", ["operator_id", "opened_at"]),
)


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "dialogs", columns)


def downgrade() -> None:
    for name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name="dialogs")
