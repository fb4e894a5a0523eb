"""The KPI board (plan against fact per operator) and the points rating
(docs/PROTOCOL.md, "KPI and rating"). Both read one week or month: the one holding ``date``,
or the current one; everyone sees only the operators in their scope (``scope``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any, cast

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.app_keys import SESSIONS
from core.db.kpi_schema import KpiPlan
from core.db.routing_schema import OperatorGroupMember
from core.db.schema import Operator
from core.envelope import utcnow
from core.limits import RowId
from core.roles import READ_ONLY_ROLES
from operator_console.bodies import bad_request
from operator_console.keys import OPERATOR
from operator_console.kpi.facts import OperatorFacts, facts_of, operator_zones
from operator_console.kpi.periods import Period, PeriodKind, period_of, today_in
from operator_console.kpi.plans_api import weights_of
from operator_console.kpi.rating import points_of, ranking, units_of
from operator_console.kpi.scope import readable_operators
from operator_console.kpi.targets import (
    AT_MOST,
    LABELS,
    PLAN_KINDS,
    PlanKind,
    PlanRow,
    effective_plans,
    judge,
)


class PeriodQuery(BaseModel):
    """``?period=week|month&date=YYYY-MM-DD&group_id=…`` (all optional)."""

    model_config = ConfigDict(extra="forbid")
    period: PeriodKind = "week"
    day: date | None = Field(default=None, alias="date")
    group_id: RowId | None = None


def read_query(request: web.Request) -> PeriodQuery:
    """The query string as ``PeriodQuery``, or a 400 naming the parameter."""
    try:
        return PeriodQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        raise bad_request(exc) from exc


async def board_people(
    session: AsyncSession, readable: frozenset[int] | None, group_id: int | None
) -> dict[int, str]:
    """Names of the operators to show: those in scope (and in the group, when one is given);
    analysts answer no dialogs and are never on the board."""
    query = select(Operator.id, Operator.name).where(Operator.role.not_in(READ_ONLY_ROLES))
    if readable is not None:
        query = query.where(Operator.id.in_(readable))
    if group_id is not None:
        members = select(OperatorGroupMember.operator_id).where(
            OperatorGroupMember.group_id == group_id
        )
        query = query.where(Operator.id.in_(members))
    return {int(i): str(n) for i, n in (await session.execute(query.order_by(Operator.name)))}


async def _period(session: AsyncSession, user: Operator, query: PeriodQuery) -> Period:
    day = query.day
    if day is None:
        zone = (await operator_zones(session, [user.id]))[user.id]
        day = today_in(zone, utcnow())
    return period_of(query.period, day)


async def _groups(session: AsyncSession, ids: list[int]) -> dict[int, list[int]]:
    rows = await session.execute(
        select(OperatorGroupMember.operator_id, OperatorGroupMember.group_id).where(
            OperatorGroupMember.operator_id.in_(ids)
        )
    )
    out: dict[int, list[int]] = defaultdict(list)
    for op, group in rows.all():
        out[int(op)].append(int(group))
    return out


def _kpi_json(plan: PlanRow, facts: dict[str, float | None]) -> dict[str, Any]:
    fact = facts[plan.kind]
    verdict = judge(plan.kind, plan.target, fact)
    return {
        "kind": plan.kind,
        "plan_id": plan.id,
        "source": "operator" if plan.operator_id is not None else "group",
        "group_id": plan.group_id,
        "target": plan.target,
        "fact": fact,
        "done_pct": verdict.done_pct,
        "met": verdict.met,
        "off_by": verdict.off_by,
    }


async def period_and_people(
    session: AsyncSession, user: Operator, query: PeriodQuery
) -> tuple[Period, dict[int, str]]:
    """The period the query names and the operators in ``user``'s scope, by id with names."""
    people = await board_people(session, await readable_operators(session, user), query.group_id)
    return await _period(session, user, query), people


async def board_rows(
    session: AsyncSession, period: Period, people: dict[int, str]
) -> list[dict[str, Any]]:
    """The board of ``people`` (names by id) over ``period``: per operator, each plan with
    its fact, % done, whether it is met and how far off."""
    zones = await operator_zones(session, people)
    facts = await facts_of(session, period, zones)
    groups = await _groups(session, list(people))
    plans = [
        # The API only ever stores the kinds of PlanKind (PlanBody validates them).
        PlanRow(p.id, p.period, cast(PlanKind, p.kind), p.target, p.operator_id, p.group_id)
        for p in await session.scalars(select(KpiPlan).where(KpiPlan.period == period.kind))
    ]
    rows = []
    for op, name in people.items():
        mine = effective_plans(op, groups.get(op, []), period.kind, plans)
        figures = facts[op].plan_facts()
        rows.append(
            {
                "operator_id": op,
                "name": name,
                "time_zone": zones[op],
                "facts": figures,
                "kpis": [_kpi_json(mine[k], figures) for k in PLAN_KINDS if k in mine],
            }
        )
    return rows


async def board(request: web.Request) -> web.Response:
    """GET /api/kpi/board: per operator in scope, each plan with its fact, % done, whether it
    is met and how far off."""
    user, query = request[OPERATOR], read_query(request)
    async with request.app[SESSIONS]() as session:
        period, people = await period_and_people(session, user, query)
        rows = await board_rows(session, period, people)
    return web.json_response({"period": period.json(), "kinds": _kinds(), "rows": rows})


def _kinds() -> list[dict[str, Any]]:
    kinds: list[PlanKind] = list(PLAN_KINDS)
    return [{"kind": k, "label": LABELS[k], "at_most": k in AT_MOST} for k in kinds]


async def rating_rows(
    session: AsyncSession, period: Period, weights: dict[str, float], group_id: int | None = None
) -> list[dict[str, Any]]:
    """Everyone on the board (of ``group_id``, when given) ranked by points under ``weights``
    over ``period``, most first."""
    everyone = await board_people(session, None, group_id)
    facts: dict[int, OperatorFacts] = await facts_of(
        session, period, await operator_zones(session, everyone)
    )
    units = {op: units_of(f) for op, f in facts.items()}
    places = ranking((op, points_of(units[op], weights)) for op in everyone)
    return [
        {
            "operator_id": place.operator_id,
            "name": everyone[place.operator_id],
            "rank": place.rank,
            "points": place.points,
            "units": units[place.operator_id],
        }
        for place in places
    ]


async def rating(request: web.Request) -> web.Response:
    """GET /api/kpi/rating: operators ranked by weighted points over the period. Ranks are
    among everyone; the rows are those of the operators in the caller's scope."""
    user, query = request[OPERATOR], read_query(request)
    async with request.app[SESSIONS]() as session:
        period = await _period(session, user, query)
        weights = await weights_of(session)
        ranked = await rating_rows(session, period, weights, query.group_id)
        readable = await readable_operators(session, user)
    rows = [r for r in ranked if readable is None or r["operator_id"] in readable]
    return web.json_response(
        {"period": period.json(), "weights": weights, "ranked": len(ranked), "rows": rows}
    )


def routes() -> list[web.AbstractRouteDef]:
    """The board and rating routes."""
    return [web.get("/api/kpi/board", board), web.get("/api/kpi/rating", rating)]
