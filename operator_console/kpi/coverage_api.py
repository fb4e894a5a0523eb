"""Client coverage (docs/PROTOCOL.md, "KPI and rating"): per operator, the clients they are
responsible for, key ones first, and which of them had a dialog in the period (any dialog of
the client, whoever answered it) and which were left without one.

Admins and managers mark a client key and name its responsible operator; a manager only
among the operators they read.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.app_keys import SESSIONS
from core.db.crm_schema import CrmProfile
from core.db.schema import Client, Dialog, Operator
from core.envelope import utcnow
from core.limits import RowId
from core.roles import READ_ONLY_ROLES
from crm_sink.coverage import do_set_coverage
from operator_console.auth import http_error, require_role
from operator_console.bodies import Body, path_id, read_body
from operator_console.keys import OPERATOR
from operator_console.kpi.board_api import period_and_people, read_query
from operator_console.kpi.facts import in_window, operator_zones, windows_of
from operator_console.kpi.periods import Period
from operator_console.kpi.scope import readable_operators


class CoverageBody(Body):
    """A client's coverage: whether it is a key client and who is responsible for it."""

    key_client: bool
    responsible_id: RowId | None


async def _clients(session: AsyncSession, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    last = (
        select(Dialog.client_id, func.max(Dialog.opened_at).label("at"))
        .group_by(Dialog.client_id)
        .subquery()
    )
    rows = await session.execute(
        select(CrmProfile.responsible_id, Client.id, Client.name, CrmProfile.key_client, last.c.at)
        .join(Client, Client.id == CrmProfile.client_id)
        .outerjoin(last, last.c.client_id == Client.id)
        .where(CrmProfile.responsible_id.in_(ids), CrmProfile.merged_into_id.is_(None))
        .order_by(CrmProfile.key_client.desc(), Client.name, Client.id)
    )
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for owner, client_id, name, key, at in rows.all():
        assert owner is not None
        out[owner].append(
            {
                "client_id": client_id,
                "name": name,
                "key_client": bool(key),
                "last_dialog_at": None if at is None else at.isoformat(),
            }
        )
    return out


async def _covered(session: AsyncSession, period: Period, zones: dict[int, str]) -> set[int]:
    """Clients whose responsible operator's period holds one of their dialogs."""
    rows = await session.scalars(
        select(CrmProfile.client_id)
        .join(Dialog, Dialog.client_id == CrmProfile.client_id)
        .where(in_window(CrmProfile.responsible_id, Dialog.opened_at, windows_of(period, zones)))
        .distinct()
    )
    return set(rows)


async def coverage(request: web.Request) -> web.Response:
    """GET /api/kpi/coverage: per operator in scope, their clients with or without a dialog."""
    user, query = request[OPERATOR], read_query(request)
    async with request.app[SESSIONS]() as session:
        period, people = await period_and_people(session, user, query)
        zones = await operator_zones(session, people)
        clients = await _clients(session, list(people))
        covered = await _covered(session, period, zones) if people else set()
    rows = []
    for op, name in people.items():
        mine = [{**c, "had_dialog": c["client_id"] in covered} for c in clients.get(op, [])]
        keys = [c for c in mine if c["key_client"]]
        rows.append(
            {
                "operator_id": op,
                "name": name,
                "clients": mine,
                "total": len(mine),
                "covered": sum(1 for c in mine if c["had_dialog"]),
                "key_total": len(keys),
                "key_covered": sum(1 for c in keys if c["had_dialog"]),
            }
        )
    return web.json_response({"period": period.json(), "rows": rows})


async def _check_responsible(
    session: AsyncSession, operator_id: int | None, readable: frozenset[int] | None
) -> None:
    if operator_id is None:
        return
    role = await session.scalar(select(Operator.role).where(Operator.id == operator_id))
    if role is None or role in READ_ONLY_ROLES:
        raise http_error(web.HTTPBadRequest, "responsible_id: no such operator")
    if readable is not None and operator_id not in readable:
        raise http_error(web.HTTPForbidden, "responsible_id: not one of your operators")


async def set_coverage(request: web.Request) -> web.Response:
    """PUT /api/kpi/coverage/clients/{client_id}: key flag and responsible operator."""
    user = require_role(request, "admin", "manager")
    body = await read_body(request, CoverageBody)
    client_id = path_id(request, "client_id")
    async with request.app[SESSIONS]() as session, session.begin():
        if await session.get(Client, client_id) is None:
            raise http_error(web.HTTPNotFound, "no such client")
        readable = await readable_operators(session, user)
        await _check_responsible(session, body.responsible_id, readable)
        if readable is not None:
            now_responsible = await session.scalar(
                select(CrmProfile.responsible_id).where(CrmProfile.client_id == client_id)
            )
            if now_responsible is not None and now_responsible not in readable:
                raise http_error(web.HTTPForbidden, "the client's operator is not one of yours")
        profile = await do_set_coverage(
            session, client_id, body.key_client, body.responsible_id, utcnow()
        )
        view = {
            "client_id": client_id,
            "key_client": profile.key_client,
            "responsible_id": profile.responsible_id,
        }
    return web.json_response({"client": view})


def routes() -> list[web.AbstractRouteDef]:
    """The coverage routes."""
    return [
        web.get("/api/kpi/coverage", coverage),
        web.put("/api/kpi/coverage/clients/{client_id}", set_coverage),
    ]
