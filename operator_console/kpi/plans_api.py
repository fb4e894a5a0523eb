"""KPI plans and rating weights: reading and setting them (docs/PROTOCOL.md, "KPI and rating").

Admins set any plan and the weights; managers set the plans of their groups and of those
groups' members; operators read the plans that apply to them; analysts read every plan.
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.app_keys import SESSIONS
from core.db.kpi_schema import KpiPlan, KpiWeight
from core.db.routing_schema import OperatorGroup, OperatorGroupMember
from core.db.schema import Operator
from core.envelope import utcnow
from core.limits import RowId
from core.roles import READ_ONLY_ROLES
from operator_console.auth import http_error, require_role
from operator_console.bodies import Body, path_id, read_body
from operator_console.keys import OPERATOR
from operator_console.kpi.periods import PeriodKind
from operator_console.kpi.rating import DEFAULT_WEIGHTS, WEIGHT_KINDS
from operator_console.kpi.scope import PlanRights, plan_rights, readable_operators
from operator_console.kpi.targets import PlanKind

MAX_TARGET = 1_000_000.0


class PlanBody(Body):
    """A plan to set: one of ``operator_id`` and ``group_id``; replaces the target's plan of
    the same period and kind."""

    period: PeriodKind
    kind: PlanKind
    target: float = Field(ge=0, le=MAX_TARGET, allow_inf_nan=False)
    operator_id: RowId | None = None
    group_id: RowId | None = None


Weight = Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)]


class WeightsBody(Body):
    """Weights to change, by kind; kinds left out keep theirs."""

    weights: dict[str, Weight] = Field(max_length=64)


def plan_json(plan: KpiPlan, rights: PlanRights) -> dict[str, Any]:
    """A plan as the API shows it."""
    return {
        "id": plan.id,
        "period": plan.period,
        "kind": plan.kind,
        "target": plan.target,
        "operator_id": plan.operator_id,
        "group_id": plan.group_id,
        "editable": rights.allows(plan.operator_id, plan.group_id),
        "updated_at": plan.updated_at.isoformat(),
    }


async def _visible_plans(session: AsyncSession, user: Operator) -> list[KpiPlan]:
    query = select(KpiPlan).order_by(KpiPlan.id)
    readable = await readable_operators(session, user)
    if readable is not None:
        groups = select(OperatorGroupMember.group_id).where(
            OperatorGroupMember.operator_id.in_(readable)
        )
        query = query.where(or_(KpiPlan.operator_id.in_(readable), KpiPlan.group_id.in_(groups)))
    return list(await session.scalars(query))


async def _targets(session: AsyncSession, rights: PlanRights) -> dict[str, Any]:
    """The operators and groups whose plans the caller may set, with names for the editor."""
    people = select(Operator.id, Operator.name).where(Operator.role.not_in(READ_ONLY_ROLES))
    groups = select(OperatorGroup.id, OperatorGroup.name)
    if rights.operator_ids is not None:
        people = people.where(Operator.id.in_(rights.operator_ids))
    if rights.group_ids is not None:
        groups = groups.where(OperatorGroup.id.in_(rights.group_ids))
    return {
        "operators": [
            {"id": i, "name": n} for i, n in (await session.execute(people.order_by(Operator.name)))
        ],
        "groups": [
            {"id": i, "name": n}
            for i, n in (await session.execute(groups.order_by(OperatorGroup.name)))
        ],
    }


async def list_plans(request: web.Request) -> web.Response:
    """GET /api/kpi/plans: the plans the caller reads, and whose plans they may set."""
    user = request[OPERATOR]
    async with request.app[SESSIONS]() as session:
        rights = await plan_rights(session, user)
        plans = await _visible_plans(session, user)
        return web.json_response(
            {
                "plans": [plan_json(p, rights) for p in plans],
                "may_set": await _targets(session, rights),
            }
        )


async def _check_target(session: AsyncSession, body: PlanBody) -> None:
    if (body.operator_id is None) == (body.group_id is None):
        raise http_error(web.HTTPBadRequest, "operator_id: name an operator or a group (one)")
    if body.operator_id is not None:
        role = await session.scalar(select(Operator.role).where(Operator.id == body.operator_id))
        if role is None or role in READ_ONLY_ROLES:
            raise http_error(web.HTTPBadRequest, "operator_id: no such operator")
    elif await session.get(OperatorGroup, body.group_id) is None:
        raise http_error(web.HTTPBadRequest, "group_id: no such group")
    if body.kind == "rating_avg" and not 1 <= body.target <= 5:
        raise http_error(web.HTTPBadRequest, "target: an average rating is between 1 and 5")


async def set_plan(request: web.Request) -> web.Response:
    """PUT /api/kpi/plans: set (or replace) one operator's or one group's plan of a kind."""
    user = require_role(request, "admin", "manager")
    body = await read_body(request, PlanBody)
    async with request.app[SESSIONS]() as session, session.begin():
        await _check_target(session, body)
        rights = await plan_rights(session, user)
        if not rights.allows(body.operator_id, body.group_id):
            raise http_error(web.HTTPForbidden, "you may set plans of your groups' operators only")
        plan = await session.scalar(
            select(KpiPlan).where(
                KpiPlan.period == body.period,
                KpiPlan.kind == body.kind,
                KpiPlan.operator_id == body.operator_id
                if body.operator_id is not None
                else KpiPlan.group_id == body.group_id,
            )
        )
        if plan is None:
            plan = KpiPlan(
                period=body.period,
                kind=body.kind,
                operator_id=body.operator_id,
                group_id=body.group_id,
                target=body.target,
            )
            session.add(plan)
        plan.target, plan.set_by, plan.updated_at = body.target, user.id, utcnow()
        await session.flush()
        view = plan_json(plan, rights)
    return web.json_response({"plan": view})


async def delete_plan(request: web.Request) -> web.Response:
    """DELETE /api/kpi/plans/{plan_id}."""
    user = require_role(request, "admin", "manager")
    plan_id = path_id(request, "plan_id")
    async with request.app[SESSIONS]() as session, session.begin():
        plan = await session.get(KpiPlan, plan_id)
        if plan is None:
            raise http_error(web.HTTPNotFound, "no such plan")
        if not (await plan_rights(session, user)).allows(plan.operator_id, plan.group_id):
            raise http_error(web.HTTPForbidden, "you may set plans of your groups' operators only")
        await session.execute(delete(KpiPlan).where(KpiPlan.id == plan_id))
    return web.Response(status=204)


async def weights_of(session: AsyncSession) -> dict[str, float]:
    """Every weighted kind with its weight (the default where the admin set none)."""
    rows = await session.execute(select(KpiWeight.kind, KpiWeight.weight))
    stored = {str(kind): float(weight) for kind, weight in rows.all()}
    return {kind: float(stored.get(kind, DEFAULT_WEIGHTS[kind])) for kind in WEIGHT_KINDS}


async def get_weights(request: web.Request) -> web.Response:
    """GET /api/kpi/weights: what each kind of communication is worth (everyone reads it)."""
    async with request.app[SESSIONS]() as session:
        return web.json_response({"weights": await weights_of(session)})


async def set_weights(request: web.Request) -> web.Response:
    """PUT /api/kpi/weights: change some weights (admins)."""
    require_role(request, "admin")
    body = await read_body(request, WeightsBody)
    for kind in body.weights:
        if kind not in DEFAULT_WEIGHTS:
            raise http_error(web.HTTPBadRequest, f"weights.{kind}: not a kind of communication")
    async with request.app[SESSIONS]() as session, session.begin():
        for kind, weight in body.weights.items():
            row = await session.get(KpiWeight, kind)
            if row is None:
                session.add(KpiWeight(kind=kind, weight=weight, updated_at=utcnow()))
            else:
                row.weight, row.updated_at = weight, utcnow()
        await session.flush()
        weights = await weights_of(session)
    return web.json_response({"weights": weights})


def routes() -> list[web.AbstractRouteDef]:
    """The plan and weight routes."""
    return [
        web.get("/api/kpi/plans", list_plans),
        web.put("/api/kpi/plans", set_plan),
        web.delete("/api/kpi/plans/{plan_id}", delete_plan),
        web.get("/api/kpi/weights", get_weights),
        web.put("/api/kpi/weights", set_weights),
    ]
