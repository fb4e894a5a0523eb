"""Quick answers, and full-text search over messages and clients.

SQLite gets FTS5 tables with external content, kept in step by triggers (a later batch
migration that recreates ``messages`` or ``clients`` must recreate these triggers too);
PostgreSQL gets GIN indexes over ``to_tsvector('simple', …)``. See ``core/db/search_schema.py``.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (FTS table, content table, indexed column)
_FTS = (("messages_fts", "messages", "text"), ("clients_fts", "clients", "name"))


def _sqlite_fts(fts: str, table: str, column: str) -> list[str]:
    new = f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column});"
    old = f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column});"
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {new} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {old} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {column} ON {table} BEGIN {old} {new} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def upgrade() -> None:
    op.create_table(
        "quick_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=True),
        sa.Column("line_id", sa.Integer(), sa.ForeignKey("lines.id"), nullable=True),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint(
            "(owner_id IS NULL) <> (line_id IS NULL)", name="ck_quick_answers_one_scope"
        ),
    )
    op.create_index("ix_quick_answers_owner", "quick_answers", ["owner_id"])
    op.create_index("ix_quick_answers_line_title", "quick_answers", ["line_id", "title"])
    if op.get_bind().dialect.name == "sqlite":
        for fts, table, column in _FTS:
            for statement in _sqlite_fts(fts, table, column):
                op.execute(statement)
    else:
        op.execute(
            "CREATE INDEX ix_messages_text_search ON messages "
            "USING gin (to_tsvector('simple'::regconfig, text))"
        )
        op.execute(
            "CREATE INDEX ix_clients_name_search ON clients "
            "USING gin (to_tsvector('simple'::regconfig, name))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for fts, _table, _column in _FTS:
            for suffix in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {fts}_{suffix}")
            op.execute(f"DROP TABLE {fts}")
    else:
        op.execute("DROP INDEX ix_clients_name_search")
        op.execute("DROP INDEX ix_messages_text_search")
    op.drop_index("ix_quick_answers_line_title", "quick_answers")
    op.drop_index("ix_quick_answers_owner", "quick_answers")
    op.drop_table("quick_answers")
