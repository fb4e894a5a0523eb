"""What a KPI plan asks, and how far a fact is from it. Pure: no database, no clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

PlanKind = Literal["dialogs", "frt_p90_s", "rating_avg", "missed", "crm_points"]
PLAN_KINDS: tuple[PlanKind, ...] = get_args(PlanKind)

AT_MOST: frozenset[PlanKind] = frozenset({"frt_p90_s", "missed"})
"""Kinds whose plan is a ceiling (first response p90 in seconds, missed dialogs); the others
are floors."""

LABELS: dict[PlanKind, str] = {
    "dialogs": "Dialogs handled",
    "frt_p90_s": "First response p90, s",
    "rating_avg": "Average rating",
    "missed": "Missed dialogs",
    "crm_points": "CRM completeness points",
}


@dataclass(frozen=True)
class Verdict:
    """A fact against its plan.

    ``done_pct``: for a floor, fact / plan; for a ceiling, 100 while within it and plan / fact
    above it. ``off_by``: how much is missing (floor) or over (ceiling); 0 when met. All three
    are None when there is nothing to measure (no answered dialog for the p90, no rating).
    """

    done_pct: float | None
    met: bool | None
    off_by: float | None


def judge(kind: PlanKind, target: float, fact: float | None) -> Verdict:
    """The verdict of ``fact`` against a plan of ``kind`` asking for ``target``."""
    if fact is None:
        return Verdict(None, None, None)
    if kind in AT_MOST:
        met = fact <= target
        pct = 100.0 if met else (100.0 * target / fact if fact else 0.0)
        return Verdict(round(pct, 1), met, round(max(0.0, fact - target), 2))
    met = fact >= target
    pct = 100.0 if target <= 0 else 100.0 * fact / target
    return Verdict(round(pct, 1), met, round(max(0.0, target - fact), 2))


@dataclass(frozen=True)
class PlanRow:
    """A stored plan as the rules see it."""

    id: int
    period: str
    kind: PlanKind
    target: float
    operator_id: int | None
    group_id: int | None


def effective_plans(
    operator_id: int, groups: Iterable[int], period: str, plans: Iterable[PlanRow]
) -> dict[PlanKind, PlanRow]:
    """The plan of each kind that applies to one operator in ``period``.

    Their own plan wins; otherwise the plan of their group with the smallest id (an operator
    in two groups with different plans of one kind gets the older group's).
    """
    mine = set(groups)
    chosen: dict[PlanKind, PlanRow] = {}
    for plan in sorted(plans, key=lambda p: (p.operator_id is None, p.group_id or 0)):
        if plan.period != period or plan.kind in chosen:
            continue
        if plan.operator_id == operator_id or (plan.group_id is not None and plan.group_id in mine):
            chosen[plan.kind] = plan
    return chosen
