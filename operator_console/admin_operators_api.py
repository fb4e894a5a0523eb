"""Admin endpoints for operators (docs/PROTOCOL.md, "Admin: lines and operators").

Admins create, edit, disable and enable operators; managers may read. A disabled operator's
password hash carries a prefix no password can match, so enabling gives them back their own.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import streams
from core.app_keys import BUS, SESSIONS
from core.db.routing_schema import OperatorGroupMember
from core.db.schema import ConsoleSession, LineOperator, Operator
from core.envelope import PresenceChange
from core.roles import READ_ONLY_ROLES, SUPERVISOR_ROLES, OperatorRole
from operator_console.auth import hashed_password, http_error, require_role
from operator_console.bodies import Body, path_row
from operator_console.field_errors import FieldError, field_error_response, read_form_body
from operator_console.live import HUB
from operator_console.views import operator_json

DISABLED = "disabled:"
"""Prefix of a disabled operator's password hash: no password can match it, and enabling
strips it, so the operator keeps their password."""
EMAIL_PATTERN = r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"
"""An operator's email: empty (none), or one address with a dotted domain."""


class OperatorBody(Body):
    login: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=255)
    role: OperatorRole = "operator"
    password: str = Field(min_length=8, max_length=1024)
    max_open_dialogs: int | None = Field(default=None, ge=1, le=1000)
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    """Where the weekly digest goes; empty or absent: no digest."""


class OperatorEditBody(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    role: OperatorRole | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    max_open_dialogs: int | None = Field(default=None, ge=1, le=1000)
    clear_max_open_dialogs: bool = False
    """Remove the overall limit (``max_open_dialogs: null`` cannot say that in a PATCH)."""
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    """A new address; ``""`` removes it."""


def admin_operator_json(op: Operator) -> dict[str, Any]:
    """The admin view of an operator: the console's view plus limits and state."""
    return {
        **operator_json(op),
        "max_open_dialogs": op.max_open_dialogs,
        "email": op.email,
        "disabled": op.password_hash.startswith(DISABLED),
    }


async def list_operators(request: web.Request) -> web.Response:
    """GET /api/admin/operators."""
    require_role(request, *SUPERVISOR_ROLES)
    async with request.app[SESSIONS]() as session:
        rows = await session.scalars(select(Operator).order_by(Operator.id))
        return web.json_response({"operators": [admin_operator_json(op) for op in rows]})


async def create_operator(request: web.Request) -> web.Response:
    """POST /api/admin/operators."""
    require_role(request, "admin")
    body = await read_form_body(request, OperatorBody)
    password_hash = await hashed_password(body.password)
    async with request.app[SESSIONS]() as session, session.begin():
        if await session.scalar(select(Operator.id).where(Operator.login == body.login)):
            error = FieldError("login", "Another operator uses this login.")
            raise field_error_response([error], web.HTTPConflict)
        operator = Operator(
            login=body.login,
            name=body.name,
            role=body.role,
            password_hash=password_hash,
            max_open_dialogs=body.max_open_dialogs,
            email=body.email or None,
        )
        session.add(operator)
        await session.flush()
        view = admin_operator_json(operator)
    return web.json_response({"operator": view}, status=201)


async def edit_operator(request: web.Request) -> web.Response:
    """PATCH /api/admin/operators/{id}."""
    me = require_role(request, "admin")
    body = await read_form_body(request, OperatorEditBody)
    new_hash = await hashed_password(body.password) if body.password is not None else None
    async with request.app[SESSIONS]() as session, session.begin():
        operator = await path_row(session, request, Operator, "operator_id")
        if operator.id == me.id and body.role not in (None, "admin"):
            raise http_error(web.HTTPConflict, "role: you cannot demote yourself")
        if body.name is not None:
            operator.name = body.name
        role_changed = body.role is not None and body.role != operator.role
        if body.role is not None:
            if body.role in READ_ONLY_ROLES and role_changed:
                await _check_off_every_queue(session, operator.id)
            operator.role = body.role
        if new_hash is not None:
            prefix = DISABLED if operator.password_hash.startswith(DISABLED) else ""
            operator.password_hash = prefix + new_hash
        if body.max_open_dialogs is not None:
            operator.max_open_dialogs = body.max_open_dialogs
        elif body.clear_max_open_dialogs:
            operator.max_open_dialogs = None
        if body.email is not None:
            operator.email = body.email or None
        await session.flush()
        view = admin_operator_json(operator)
    if role_changed:
        request.app[HUB].recheck_sessions(view["id"])
    return web.json_response({"operator": view})


async def _check_off_every_queue(session: AsyncSession, operator_id: int) -> None:
    """409 when the operator is in a line's queue or an operator group: an analyst never
    gets dialogs, so they must leave those first (nothing is removed behind the admin's back)."""
    on_line = await session.scalar(
        select(LineOperator.line_id).where(LineOperator.operator_id == operator_id).limit(1)
    )
    in_group = await session.scalar(
        select(OperatorGroupMember.group_id)
        .where(OperatorGroupMember.operator_id == operator_id)
        .limit(1)
    )
    if on_line is not None or in_group is not None:
        raise http_error(
            web.HTTPConflict,
            "role: an analyst is never on a line; take them out of every line queue and "
            "operator group first",
        )


async def disable_operator(request: web.Request) -> web.Response:
    """POST /api/admin/operators/{id}/disable: no login, sessions ended, offers handed on."""
    me = require_role(request, "admin")
    async with request.app[SESSIONS]() as session, session.begin():
        operator = await path_row(session, request, Operator, "operator_id")
        if operator.id == me.id:
            raise http_error(web.HTTPConflict, "you cannot disable yourself")
        if not operator.password_hash.startswith(DISABLED):
            operator.password_hash = DISABLED + operator.password_hash
        await session.execute(
            delete(ConsoleSession).where(ConsoleSession.operator_id == operator.id)
        )
        await session.flush()
        view = admin_operator_json(operator)
    request.app[HUB].recheck_sessions(view["id"])
    # Through the router, like any presence change: it hands their pending offers on.
    await request.app[BUS].publish(
        streams.COMMANDS, PresenceChange(operator_id=view["id"], status="offline")
    )
    return web.json_response({"operator": view})


async def enable_operator(request: web.Request) -> web.Response:
    """POST /api/admin/operators/{id}/enable: they may log in again with their password."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session, session.begin():
        operator = await path_row(session, request, Operator, "operator_id")
        operator.password_hash = operator.password_hash.removeprefix(DISABLED)
        await session.flush()
        view = admin_operator_json(operator)
    return web.json_response({"operator": view})


def routes() -> list[web.AbstractRouteDef]:
    """The operator admin routes."""
    return [
        web.get("/api/admin/operators", list_operators),
        web.post("/api/admin/operators", create_operator),
        web.patch("/api/admin/operators/{operator_id}", edit_operator),
        web.post("/api/admin/operators/{operator_id}/disable", disable_operator),
        web.post("/api/admin/operators/{operator_id}/enable", enable_operator),
    ]
