"""KPI plans (per operator or per operator group), the weights of the points rating, and the
"key client" flag of a client's CRM profile.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crm_profiles") as batch:
        batch.add_column(
            sa.Column("key_client", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "kpi_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("operator_groups.id"), nullable=True),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint(
            "(operator_id IS NULL) <> (group_id IS NULL)", name="ck_kpi_plans_one_target"
        ),
    )
    op.create_index(
        "ix_kpi_plans_operator", "kpi_plans", ["operator_id", "period", "kind"], unique=True
    )
    op.create_index("ix_kpi_plans_group", "kpi_plans", ["group_id", "period", "kind"], unique=True)
    op.create_table(
        "kpi_weights",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind"),
    )


def downgrade() -> None:
    op.drop_table("kpi_weights")
    op.drop_index("ix_kpi_plans_group", "kpi_plans")
    op.drop_index("ix_kpi_plans_operator", "kpi_plans")
    op.drop_table("kpi_plans")
    with op.batch_alter_table("crm_profiles") as batch:
        batch.drop_column("key_client")
