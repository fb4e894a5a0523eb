"""CRM sink: profiles, contacts, leads, dialog links, notes and transcripts, merges,
external adapter refs, required fields, points and fill-in tasks.

Revision ID: 0006
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_external_refs",
        sa.Column("adapter", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("adapter", "key"),
    )
    op.create_table(
        "crm_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["operators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lines.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "crm_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("main_id", sa.Integer(), nullable=False),
        sa.Column("dup_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dup_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["main_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["undone_by"],
            ["operators.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_crm_merges_dup_id"), "crm_merges", ["dup_id"], unique=False)
    op.create_index(op.f("ix_crm_merges_main_id"), "crm_merges", ["main_id"], unique=False)
    op.create_table(
        "crm_not_duplicates",
        sa.Column("low_id", sa.Integer(), nullable=False),
        sa.Column("high_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["high_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["low_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
        ),
        sa.PrimaryKeyConstraint("low_id", "high_id"),
    )
    op.create_table(
        "crm_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "field", name="uq_crm_points_client_field"),
    )
    op.create_index(op.f("ix_crm_points_operator_id"), "crm_points", ["operator_id"], unique=False)
    op.create_table(
        "crm_profiles",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("company", sa.String(length=255), nullable=False),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("custom_fields", sa.JSON(), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"],
            ["operators.id"],
        ),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "crm_required_fields",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lines.id"],
        ),
        sa.PrimaryKeyConstraint("line_id"),
    )
    op.create_table(
        "crm_fill_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["crm_checks.id"],
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("check_id", "client_id", name="uq_crm_task_check_client"),
    )
    op.create_index(
        op.f("ix_crm_fill_tasks_check_id"), "crm_fill_tasks", ["check_id"], unique=False
    )
    op.create_index(
        op.f("ix_crm_fill_tasks_operator_id"), "crm_fill_tasks", ["operator_id"], unique=False
    )
    op.create_table(
        "crm_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["client_identities.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "kind", "value", name="uq_crm_contact_client_value"),
    )
    op.create_index(op.f("ix_crm_contacts_client_id"), "crm_contacts", ["client_id"], unique=False)
    op.create_index("ix_crm_contacts_kind_value", "crm_contacts", ["kind", "value"], unique=False)
    op.create_table(
        "crm_leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("source_dialog_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("channel_kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lines.id"],
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"],
            ["operators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["source_dialog_id"],
            ["dialogs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_dialog_id"),
    )
    op.create_index(op.f("ix_crm_leads_client_id"), "crm_leads", ["client_id"], unique=False)
    op.create_table(
        "crm_dialog_links",
        sa.Column("dialog_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dialog_id"],
            ["dialogs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["crm_leads.id"],
        ),
        sa.PrimaryKeyConstraint("dialog_id"),
    )
    op.create_table(
        "crm_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dialog_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["operators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["dialog_id"],
            ["dialogs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["crm_leads.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dialog_id"),
    )
    op.create_index(op.f("ix_crm_notes_client_id"), "crm_notes", ["client_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_crm_notes_client_id"), table_name="crm_notes")
    op.drop_table("crm_notes")
    op.drop_table("crm_dialog_links")
    op.drop_index(op.f("ix_crm_leads_client_id"), table_name="crm_leads")
    op.drop_table("crm_leads")
    op.drop_index("ix_crm_contacts_kind_value", table_name="crm_contacts")
    op.drop_index(op.f("ix_crm_contacts_client_id"), table_name="crm_contacts")
    op.drop_table("crm_contacts")
    op.drop_index(op.f("ix_crm_fill_tasks_operator_id"), table_name="crm_fill_tasks")
    op.drop_index(op.f("ix_crm_fill_tasks_check_id"), table_name="crm_fill_tasks")
    op.drop_table("crm_fill_tasks")
    op.drop_table("crm_required_fields")
    op.drop_table("crm_profiles")
    op.drop_index(op.f("ix_crm_points_operator_id"), table_name="crm_points")
    op.drop_table("crm_points")
    op.drop_table("crm_not_duplicates")
    op.drop_index(op.f("ix_crm_merges_main_id"), table_name="crm_merges")
    op.drop_index(op.f("ix_crm_merges_dup_id"), table_name="crm_merges")
    op.drop_table("crm_merges")
    op.drop_table("crm_checks")
    op.drop_table("crm_external_refs")
