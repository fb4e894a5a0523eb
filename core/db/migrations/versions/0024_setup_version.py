"""A version of the line setup, changed by triggers on every table routing is set up from.

The router keeps lines, channels, queues and supervisors in memory between batches and reads
only ``setup_version`` to learn whether any of them changed since, whoever changed them (the
console of another process, a script, a migration). Every change writes a new random value
in the changing transaction, so readers see it exactly when they see the change.

Operators count only through their ids and roles: their presence and last assignment change
all day and leave the setup alone. A later migration that recreates one of these tables on
SQLite (a batch migration) must recreate its triggers too.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "lines",
    "channels",
    "line_operators",
    "line_groups",
    "operator_groups",
    "operator_group_members",
)
"""Tables whose every change changes the setup; ``operators`` is handled apart."""

_SQLITE_BUMP = "UPDATE setup_version SET version = random();"
_PG_BUMP = "UPDATE setup_version SET version = (random() * 9.0e18 - 4.5e18)::bigint;"
_OPERATOR_COLUMNS = ("id", "role")


def upgrade() -> None:
    op.create_table(
        "setup_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("INSERT INTO setup_version (id, version) VALUES (1, random())")
        for statement in _sqlite_triggers():
            op.execute(statement)
    else:
        op.execute(
            "INSERT INTO setup_version (id, version) "
            "VALUES (1, (random() * 9.0e18 - 4.5e18)::bigint)"
        )
        for statement in _postgres_triggers():
            op.execute(statement)


def _sqlite_triggers() -> list[str]:
    statements = []
    for table in (*TABLES, "operators"):
        for event in ("INSERT", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_setup_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN {_SQLITE_BUMP} END"
            )
    for table in TABLES:
        statements.append(
            f"CREATE TRIGGER {table}_setup_update AFTER UPDATE ON {table} BEGIN {_SQLITE_BUMP} END"
        )
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in _OPERATOR_COLUMNS)
    statements.append(
        f"CREATE TRIGGER operators_setup_update AFTER UPDATE OF {', '.join(_OPERATOR_COLUMNS)} "
        f"ON operators WHEN {changed} BEGIN {_SQLITE_BUMP} END"
    )
    return statements


def _postgres_triggers() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _OPERATOR_COLUMNS)
    statements = [
        "CREATE FUNCTION bump_setup_version() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {_PG_BUMP} RETURN NULL; END $$",
        # One write per statement, however many rows it changes.
        *(
            f"CREATE TRIGGER {table}_setup AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_setup_version()"
            for table in TABLES
        ),
        "CREATE TRIGGER operators_setup AFTER INSERT OR DELETE OR TRUNCATE ON operators "
        "FOR EACH STATEMENT EXECUTE FUNCTION bump_setup_version()",
        f"CREATE TRIGGER operators_setup_update AFTER UPDATE OF {', '.join(_OPERATOR_COLUMNS)} "
        f"ON operators FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION bump_setup_version()",
    ]
    return statements


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in (*TABLES, "operators"):
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {table}_setup_{event}")
    else:
        for table in (*TABLES, "operators"):
            op.execute(f"DROP TRIGGER {table}_setup ON {table}")
        op.execute("DROP TRIGGER operators_setup_update ON operators")
        op.execute("DROP FUNCTION bump_setup_version()")
    op.drop_table("setup_version")
