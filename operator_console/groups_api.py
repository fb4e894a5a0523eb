"""Admin endpoints for groups of operators (docs/PROTOCOL.md, "Admin: groups of operators").

A group is a named set of operators that a line's queue may hold as one entry
(``PUT /api/admin/lines/{id}/queue`` with ``{"group_id": …}``). The router expands a group
into its members whenever it routes, so a change of members applies to the next routing
decision without any notice on the bus. Admins write; managers may read. A group in a line's
queue is not deleted: the admin takes it out of the queue first, so no line loses its
operators unnoticed.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.app_keys import SESSIONS
from core.db.kpi_schema import KpiPlan
from core.db.routing_schema import LineGroup, OperatorGroup, OperatorGroupMember
from core.db.schema import Line, Operator
from core.limits import RowId
from core.roles import READ_ONLY_ROLES, SUPERVISOR_ROLES
from operator_console.auth import http_error, require_role
from operator_console.bodies import Body, path_row, read_body
from operator_console.field_errors import FieldError, field_error_response


class GroupBody(Body):
    name: str = Field(min_length=1, max_length=128)


class MembersBody(Body):
    operator_ids: list[RowId] = Field(max_length=1000)


async def _group_json(session: AsyncSession, group: OperatorGroup) -> dict[str, Any]:
    members = await session.scalars(
        select(OperatorGroupMember.operator_id)
        .where(OperatorGroupMember.group_id == group.id)
        .order_by(OperatorGroupMember.operator_id)
    )
    return {"id": group.id, "name": group.name, "members": list(members)}


async def list_groups(request: web.Request) -> web.Response:
    """GET /api/admin/groups: every group with its members' ids."""
    require_role(request, *SUPERVISOR_ROLES)
    async with request.app[SESSIONS]() as session:
        groups = (await session.scalars(select(OperatorGroup).order_by(OperatorGroup.name))).all()
        return web.json_response({"groups": [await _group_json(session, g) for g in groups]})


async def create_group(request: web.Request) -> web.Response:
    """POST /api/admin/groups."""
    require_role(request, "admin")
    body = await read_body(request, GroupBody)
    async with request.app[SESSIONS]() as session, session.begin():
        await _check_name_free(session, body.name)
        group = OperatorGroup(name=body.name)
        session.add(group)
        await session.flush()
        view = await _group_json(session, group)
    return web.json_response({"group": view}, status=201)


async def set_members(request: web.Request) -> web.Response:
    """PUT /api/admin/groups/{id}/members: the whole membership."""
    require_role(request, "admin")
    body = await read_body(request, MembersBody)
    ids = body.operator_ids
    if len(set(ids)) != len(ids):
        raise http_error(web.HTTPBadRequest, "operator_ids: an operator is listed twice")
    async with request.app[SESSIONS]() as session, session.begin():
        group = await path_row(session, request, OperatorGroup, "group_id")
        roles: dict[int, str] = {
            op_id: role
            for op_id, role in await session.execute(
                select(Operator.id, Operator.role).where(Operator.id.in_(ids))
            )
        }
        for index, operator_id in enumerate(ids):
            if operator_id not in roles:
                raise http_error(web.HTTPBadRequest, f"operator_ids.{index}: no such operator")
            if roles[operator_id] in READ_ONLY_ROLES:
                # A group is a queue entry: its members get dialogs, an analyst never does.
                raise http_error(
                    web.HTTPBadRequest, f"operator_ids.{index}: an analyst is never on a line"
                )
        await session.execute(
            delete(OperatorGroupMember).where(OperatorGroupMember.group_id == group.id)
        )
        session.add_all(OperatorGroupMember(group_id=group.id, operator_id=i) for i in ids)
        await session.flush()
        view = await _group_json(session, group)
    return web.json_response({"group": view})


async def _check_name_free(session: AsyncSession, name: str, group_id: int = 0) -> None:
    taken = await session.scalar(
        select(OperatorGroup.id).where(OperatorGroup.name == name, OperatorGroup.id != group_id)
    )
    if taken:
        raise field_error_response(
            [FieldError("name", "Another group has this name.")], web.HTTPConflict
        )


async def rename_group(request: web.Request) -> web.Response:
    """PATCH /api/admin/groups/{id}: a new name."""
    require_role(request, "admin")
    body = await read_body(request, GroupBody)
    async with request.app[SESSIONS]() as session, session.begin():
        group = await path_row(session, request, OperatorGroup, "group_id")
        await _check_name_free(session, body.name, group.id)
        group.name = body.name
        view = await _group_json(session, group)
    return web.json_response({"group": view})


async def delete_group(request: web.Request) -> web.Response:
    """DELETE /api/admin/groups/{id}: the group, its members' places in it and its KPI plans;
    409 naming the lines whose queue still holds it."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session, session.begin():
        group = await path_row(session, request, OperatorGroup, "group_id")
        lines = list(
            await session.scalars(
                select(Line.name)
                .join(LineGroup, LineGroup.line_id == Line.id)
                .where(LineGroup.group_id == group.id)
                .order_by(Line.name)
            )
        )
        if lines:
            raise http_error(
                web.HTTPConflict,
                f"the queue of {', '.join(lines)} holds this group: take it out first",
            )
        await session.execute(
            delete(OperatorGroupMember).where(OperatorGroupMember.group_id == group.id)
        )
        await session.execute(delete(KpiPlan).where(KpiPlan.group_id == group.id))
        await session.delete(group)
    return web.Response(status=204)


def routes() -> list[web.AbstractRouteDef]:
    """The group admin routes (registered with the line admin routes)."""
    return [
        web.get("/api/admin/groups", list_groups),
        web.post("/api/admin/groups", create_group),
        web.patch("/api/admin/groups/{group_id}", rename_group),
        web.delete("/api/admin/groups/{group_id}", delete_group),
        web.put("/api/admin/groups/{group_id}/members", set_members),
    ]
