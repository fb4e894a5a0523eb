"""One head again after routing, email and CRM grew side by side on 0002.

Revision ID: 0007
Revises: 0003, 0005, 0006
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007"
down_revision: tuple[str, ...] = ("0003", "0005", "0006")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
