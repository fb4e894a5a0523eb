"""Message ids in 64 bits on PostgreSQL: ``messages.id``, its sequence, and
``email_mail.message_id``, which refers to it.

An INTEGER id ends at 2 147 483 647, and once the sequence gets there no message can be
stored. Changing a column's type rewrites its table under an exclusive lock, so on a large
database this step takes a while, with the hub stopped. SQLite is left as it is: its INTEGER
PRIMARY KEY is the 64-bit rowid already.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEQUENCE = "pg_get_serial_sequence('messages', 'id')"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("messages", "id", type_=sa.BigInteger(), existing_nullable=False)
    # A serial column's sequence has the column's old type, and stops at its maximum too.
    op.execute(f"DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS bigint', {_SEQUENCE}); END $$")
    op.alter_column("email_mail", "message_id", type_=sa.BigInteger(), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("email_mail", "message_id", type_=sa.Integer(), existing_nullable=True)
    op.execute(f"DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS integer', {_SEQUENCE}); END $$")
    op.alter_column("messages", "id", type_=sa.Integer(), existing_nullable=False)
