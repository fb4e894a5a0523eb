"""Ids in 64 bits on PostgreSQL for the tables that grow with traffic: ``messages`` (and
``email_mail.message_id``, which refers to it), ``webhook_deliveries`` (one per event and
webhook) and ``routing_audit`` (one per routing step), with their sequences.

An INTEGER id ends at 2 147 483 647, and once a sequence gets there nothing more can be stored
in its table. Changing a column's type rewrites its table under an exclusive lock, so on a
large database this step takes a while, with the hub stopped. SQLite is left as it is: its
INTEGER PRIMARY KEY is the 64-bit rowid already.

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

TABLES = ("messages", "webhook_deliveries", "routing_audit")
"""Tables whose ``id`` (a serial) becomes a bigint."""


def _sequence_as(table: str, kind: str) -> None:
    # A serial column's sequence has the column's old type, and stops at its maximum too.
    op.execute(
        "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS " + kind + "', "
        f"pg_get_serial_sequence('{table}', 'id')); END $$"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "id", type_=sa.BigInteger(), existing_nullable=False)
        _sequence_as(table, "bigint")
    op.alter_column("email_mail", "message_id", type_=sa.BigInteger(), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("email_mail", "message_id", type_=sa.Integer(), existing_nullable=True)
    for table in TABLES:
        _sequence_as(table, "integer")
        op.alter_column(table, "id", type_=sa.Integer(), existing_nullable=False)
