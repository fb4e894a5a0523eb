"""The facts behind KPI plans and the points rating, counted in SQL per operator and period.

Definitions (docs/PROTOCOL.md, "KPI and rating"):

- a dialog counts for the operator it is assigned to (``dialogs.operator_id``) and for the
  period its start (``opened_at``) falls in;
- ``dialogs``: such dialogs that got an operator's answer (``first_response_at`` set);
- ``frt_p90_s``: the nearest-rank 90th percentile of their first response time in whole
  seconds (``operator_console.stats.percentiles``, as every statistics report counts it);
- ``rating_avg``: the average of the ratings clients gave them;
- ``missed``: such dialogs closed with the outcome ``missed`` (no answer);
- ``crm_points``: the completeness points the CRM sink awarded the operator in the period
  (``crm_points``: one award per required field a client had empty and the operator filled,
  worth what the line's required fields say it is).

Period boundaries are in the operator's time zone: the zone of the first of their lines (by
line id, directly or through a group), UTC for an operator on no line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.db.crm_schema import CrmLead, CrmPoints
from core.db.routing_schema import LineGroup, OperatorGroupMember
from core.db.schema import Channel, Dialog, Line, LineOperator, Message
from operator_console.kpi.periods import Period
from operator_console.stats.percentiles import percentiles

HUB_TIME_ZONE = "UTC"
"""The time zone of an operator who is on no line."""

P90 = 90
"""The percentile of first response time the plan kind ``frt_p90_s`` reads."""


@dataclass
class OperatorFacts:
    """What one operator did in a period."""

    dialogs: int = 0
    frt_p90_s: float | None = None
    rating_avg: float | None = None
    missed: int = 0
    crm_points: int = 0
    answered_by_kind: dict[str, int] = field(default_factory=dict)
    """Answered dialogs per channel kind (for the rating)."""
    email_replies: int = 0
    leads: int = 0
    crm_fields: int = 0

    def plan_facts(self) -> dict[str, float | None]:
        """The facts plans are judged on, by plan kind."""
        return {
            "dialogs": self.dialogs,
            "frt_p90_s": self.frt_p90_s,
            "rating_avg": None if self.rating_avg is None else round(self.rating_avg, 2),
            "missed": self.missed,
            "crm_points": self.crm_points,
        }


async def operator_zones(session: AsyncSession, operator_ids: Iterable[int]) -> dict[int, str]:
    """Each operator's time zone: that of the first of their lines, or the hub's."""
    ids = list(operator_ids)
    direct = select(LineOperator.operator_id.label("op"), LineOperator.line_id.label("line"))
    grouped = select(
        OperatorGroupMember.operator_id.label("op"), LineGroup.line_id.label("line")
    ).join(LineGroup, LineGroup.group_id == OperatorGroupMember.group_id)
    both = union(direct, grouped).subquery()
    first = (
        select(both.c.op, func.min(both.c.line).label("line"))
        .where(both.c.op.in_(ids))
        .group_by(both.c.op)
        .subquery()
    )
    rows = await session.execute(
        select(first.c.op, Line.timezone).join(Line, Line.id == first.c.line)
    )
    zones = {int(op): str(zone) for op, zone in rows.all()}
    return {op: zones.get(op, HUB_TIME_ZONE) for op in ids}


Windows = dict[tuple[datetime, datetime], list[int]]
"""Operators grouped by the UTC bounds of their period (one entry per time zone in use)."""


def windows_of(period: Period, zones: dict[int, str]) -> Windows:
    """The operators of ``zones`` grouped by the bounds of ``period`` in their zone."""
    windows: Windows = defaultdict(list)
    for op, zone in zones.items():
        windows[period.bounds(zone)].append(op)
    return windows


def in_window(
    operator: InstrumentedAttribute[Any],
    at: InstrumentedAttribute[Any],
    windows: Windows,
) -> ColumnElement[bool]:
    """Rows of these operators whose ``at`` falls in each one's own period."""
    return or_(
        *(and_(operator.in_(ops), at >= start, at < end) for (start, end), ops in windows.items())
    )


async def facts_of(
    session: AsyncSession, period: Period, zones: dict[int, str]
) -> dict[int, OperatorFacts]:
    """The facts of every operator in ``zones`` for ``period`` in their own time zone."""
    out = {op: OperatorFacts() for op in zones}
    if not out:
        return out
    windows = windows_of(period, zones)
    await _dialog_counts(session, out, windows)
    await _first_response_p90(session, out, windows)
    await _answered_by_kind(session, out, windows)
    await _crm_counts(session, out, windows)
    await _email_replies(session, out, windows)
    return out


def _key(operator_id: int | None) -> int:
    # Every query filters on a list of operators, so no row comes back without one.
    assert operator_id is not None
    return operator_id


async def _dialog_counts(session: AsyncSession, out: dict[int, OperatorFacts], w: Windows) -> None:
    answered = func.sum(case((Dialog.first_response_at.is_not(None), 1), else_=0))
    missed = func.sum(case((Dialog.outcome == "missed", 1), else_=0))
    rows = await session.execute(
        select(Dialog.operator_id, answered, missed, func.avg(Dialog.rating))
        .where(in_window(Dialog.operator_id, Dialog.opened_at, w))
        .group_by(Dialog.operator_id)
    )
    for op, handled, lost, rating in rows.all():
        facts = out[_key(op)]
        facts.dialogs, facts.missed = int(handled or 0), int(lost or 0)
        facts.rating_avg = None if rating is None else float(rating)


async def _first_response_p90(
    session: AsyncSession, out: dict[int, OperatorFacts], w: Windows
) -> None:
    values = select(Dialog.operator_id, Dialog.first_response_s).where(
        in_window(Dialog.operator_id, Dialog.opened_at, w),
        Dialog.first_response_at.is_not(None),
    )
    for op, (p90,) in (await percentiles(session, values, (P90,))).items():
        assert isinstance(op, int)  # the key column is the operator id
        out[op].frt_p90_s = None if p90 is None else float(p90)


async def _answered_by_kind(
    session: AsyncSession, out: dict[int, OperatorFacts], w: Windows
) -> None:
    rows = await session.execute(
        select(Dialog.operator_id, Channel.kind, func.count())
        .join(Channel, Channel.id == Dialog.channel_id)
        .where(
            in_window(Dialog.operator_id, Dialog.opened_at, w),
            Dialog.first_response_at.is_not(None),
        )
        .group_by(Dialog.operator_id, Channel.kind)
    )
    for op, kind, count in rows.all():
        out[_key(op)].answered_by_kind[str(kind)] = int(count)


async def _crm_counts(session: AsyncSession, out: dict[int, OperatorFacts], w: Windows) -> None:
    points = await session.execute(
        select(CrmPoints.operator_id, func.sum(CrmPoints.points), func.count())
        .where(in_window(CrmPoints.operator_id, CrmPoints.created_at, w))
        .group_by(CrmPoints.operator_id)
    )
    for op, total, fields in points.all():
        out[_key(op)].crm_points, out[_key(op)].crm_fields = int(total or 0), int(fields)
    # A lead counts for the operator of the dialog it was created for.
    leads = await session.execute(
        select(Dialog.operator_id, func.count())
        .select_from(CrmLead)
        .join(Dialog, Dialog.id == CrmLead.source_dialog_id)
        .where(in_window(Dialog.operator_id, CrmLead.created_at, w))
        .group_by(Dialog.operator_id)
    )
    for owner, count in leads.all():
        out[_key(owner)].leads = int(count)


async def _email_replies(session: AsyncSession, out: dict[int, OperatorFacts], w: Windows) -> None:
    rows = await session.execute(
        select(Message.operator_id, func.count())
        .join(Channel, Channel.id == Message.channel_id)
        .where(
            in_window(Message.operator_id, Message.created_at, w),
            Message.author == "operator",
            Message.hidden.is_(False),
            Channel.kind == "email",
        )
        .group_by(Message.operator_id)
    )
    for op, count in rows.all():
        out[_key(op)].email_replies = int(count)
