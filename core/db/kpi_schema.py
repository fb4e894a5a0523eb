"""Tables of KPI plans and of the weights of the points rating. The console writes them.

A plan is standing: a weekly plan applies to every week and a monthly one to every month,
until it is changed or deleted. It names either one operator or one operator group; an
operator's own plan of a kind and period overrides their group's. Migration: ``0011_kpi``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.schema import Base
from core.envelope import utcnow


class KpiPlan(Base):
    """One target: ``kind`` at least (or at most) ``target`` every ``period``, for one
    operator or for each member of one group."""

    __tablename__ = "kpi_plans"
    __table_args__ = (
        CheckConstraint(
            "(operator_id IS NULL) <> (group_id IS NULL)", name="ck_kpi_plans_one_target"
        ),
        Index("ix_kpi_plans_operator", "operator_id", "period", "kind", unique=True),
        Index("ix_kpi_plans_group", "group_id", "period", "kind", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(8))
    """``week`` (Monday to Sunday) or ``month``."""
    kind: Mapped[str] = mapped_column(String(16))
    """``dialogs``, ``frt_p90_s``, ``rating_avg``, ``missed`` or ``crm_points``."""
    target: Mapped[float] = mapped_column(Float)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("operator_groups.id"), default=None)
    set_by: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KpiWeight(Base):
    """The points one unit of a kind of communication earns in the rating; a kind with no row
    earns its default (``operator_console.kpi.rating.DEFAULT_WEIGHTS``)."""

    __tablename__ = "kpi_weights"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    """``dialog:<channel kind>``, ``email_reply``, ``lead`` or ``crm_field``."""
    weight: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
