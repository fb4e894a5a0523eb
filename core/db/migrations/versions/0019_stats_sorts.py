"""The dialog report sorted by a figure (first response, duration, rating), ascending or
descending, is an index walk: an index on each sort's expression and the dialog id.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As core.db.schema.sort_index_expression wrote them when this migration was made.
STAND_INS = {"asc": 2**31 - 1, "desc": -1}
FIGURES = ("first_response_s", "duration_s", "rating")


def upgrade() -> None:
    for figure in FIGURES:
        for order, stand_in in STAND_INS.items():
            op.create_index(
                f"ix_dialogs_sort_{figure}_{order}",
                "dialogs",
                [sa.text(f"coalesce({figure}, {stand_in})"), "id"],
            )


def downgrade() -> None:
    for figure in FIGURES:
        for order in STAND_INS:
            op.drop_index(f"ix_dialogs_sort_{figure}_{order}", table_name="dialogs")
