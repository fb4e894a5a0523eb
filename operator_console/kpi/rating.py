"""The weighted points rating: what each kind of communication is worth, and the ranking.

Units (counted by ``facts``): ``dialog:<channel kind>`` an answered dialog on that kind of
channel; ``email_reply`` an operator's reply in an email dialog; ``lead`` a lead the CRM
created for one of the operator's dialogs; ``crm_field`` a required CRM field the operator
filled. Points are the sum of units times their weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connectors.registry import KINDS
from operator_console.kpi.facts import OperatorFacts

WEIGHT_KINDS: tuple[str, ...] = (
    *(f"dialog:{kind}" for kind in KINDS),
    "email_reply",
    "lead",
    "crm_field",
)
DEFAULT_WEIGHTS: dict[str, float] = {kind: 1.0 for kind in WEIGHT_KINDS}
"""A kind the admin has not weighed earns one point a unit."""


def units_of(facts: OperatorFacts) -> dict[str, int]:
    """How many units of each weighted kind the operator produced."""
    units = {f"dialog:{kind}": facts.answered_by_kind.get(kind, 0) for kind in KINDS}
    units.update(email_reply=facts.email_replies, lead=facts.leads, crm_field=facts.crm_fields)
    return units


def points_of(units: Mapping[str, int], weights: Mapping[str, float]) -> float:
    """The points of these units under these weights."""
    return round(sum(n * weights.get(kind, 0.0) for kind, n in units.items()), 2)


@dataclass(frozen=True)
class Place:
    """An operator's place in the rating."""

    operator_id: int
    points: float
    rank: int


def ranking(points: Iterable[tuple[int, float]]) -> list[Place]:
    """Operators by points, most first; equal points share a rank ("1, 2, 2, 4") and are
    listed by operator id."""
    ordered = sorted(points, key=lambda p: (-p[1], p[0]))
    places: list[Place] = []
    for index, (operator_id, total) in enumerate(ordered):
        tied = places and places[-1].points == total
        rank = places[-1].rank if tied else index + 1
        places.append(Place(operator_id, total, rank))
    return places
