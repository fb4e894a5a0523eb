"""A line's CRM rules for admins (docs/PROTOCOL.md, "CRM"): the client fields an operator must
fill in and the points each earns, and completeness checks that hand the clients still missing
a field to operators as fill-in tasks.

Admins write; managers and admins read. Whether a task is done is read from the client's
fields at the time of asking (``crm_sink.completeness``), so the progress never goes stale.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.app_keys import SESSIONS
from core.db.crm_schema import CrmCheck, CrmRequiredFields
from core.db.schema import Line
from core.envelope import utcnow
from core.limits import RowId
from core.roles import SUPERVISOR_ROLES
from crm_sink.actions import CrmWork
from crm_sink.completeness import check_progress, do_run_check
from crm_sink.rules import BUILTIN_FIELDS
from operator_console.auth import require_role
from operator_console.bodies import Body, path_id, path_row
from operator_console.field_errors import FieldError, field_error_response, read_form_body
from operator_console.keys import SETTINGS

POINTS_MAX = 1000
RECENT_CHECKS = 20
"""How many of a line's latest checks the admin screen lists."""


class RequiredBody(Body):
    fields: dict[str, int] = Field(max_length=50)
    """Field name (``phone``, ``email``, ``name``, ``company`` or ``custom:<key>``) to points."""


class CheckBody(Body):
    operator_ids: list[RowId] = Field(default_factory=list, max_length=500)
    """Who gets the tasks; empty: each client's responsible."""


async def _line(session: AsyncSession, request: web.Request) -> Line:
    return await path_row(session, request, Line, "line_id")


def _check_fields(fields: dict[str, int]) -> None:
    errors = []
    for name, points in fields.items():
        if name == "custom:":
            errors.append(FieldError(f"fields.{name}", "Give the custom field a key."))
        elif name not in BUILTIN_FIELDS and not name.startswith("custom:"):
            sentence = "Choose a client field, or write custom: and the field's key."
            errors.append(FieldError(f"fields.{name}", sentence))
        elif not 0 <= points <= POINTS_MAX:
            sentence = f"Give from 0 to {POINTS_MAX} points."
            errors.append(FieldError(f"fields.{name}", sentence))
    if errors:
        raise field_error_response(errors)


async def get_required(request: web.Request) -> web.Response:
    """GET /api/crm/lines/{line_id}/required: the required fields and their points."""
    require_role(request, *SUPERVISOR_ROLES)
    async with request.app[SESSIONS]() as session:
        line = await _line(session, request)
        rules = await session.get(CrmRequiredFields, line.id)
        fields = dict(rules.points) if rules is not None else {}
    return web.json_response(
        {"line_id": line.id, "fields": fields, "builtin_fields": list(BUILTIN_FIELDS)}
    )


async def put_required(request: web.Request) -> web.Response:
    """PUT /api/crm/lines/{line_id}/required: the required fields and their points (admins)."""
    require_role(request, "admin")
    body = await read_form_body(request, RequiredBody)
    _check_fields(body.fields)
    async with request.app[SESSIONS]() as session, session.begin():
        line = await _line(session, request)
        rules = await session.get(CrmRequiredFields, line.id)
        if rules is None:
            session.add(CrmRequiredFields(line_id=line.id, points=dict(body.fields)))
        else:
            rules.points = dict(body.fields)
        line_id = line.id
    return web.json_response({"line_id": line_id, "fields": body.fields})


async def run_check(request: web.Request) -> web.Response:
    """POST /api/crm/lines/{line_id}/checks: a completeness check with fill-in tasks (admins)."""
    operator = require_role(request, "admin")
    body = await read_form_body(request, CheckBody)
    region = request.app[SETTINGS].crm_phone_region or None
    async with request.app[SESSIONS]() as session, session.begin():
        line = await _line(session, request)
        work = CrmWork(session, utcnow(), region)
        check = await do_run_check(work, line.id, body.operator_ids, operator.id)
        check_id = check.id
    async with request.app[SESSIONS]() as session:
        progress = await check_progress(session, check_id)
    return web.json_response(progress, status=201)


async def list_checks(request: web.Request) -> web.Response:
    """GET /api/crm/lines/{line_id}/checks: the line's latest checks with their progress."""
    require_role(request, *SUPERVISOR_ROLES)
    async with request.app[SESSIONS]() as session:
        line = await _line(session, request)
        checks = await session.scalars(
            select(CrmCheck)
            .where(CrmCheck.line_id == line.id)
            .order_by(CrmCheck.id.desc())
            .limit(RECENT_CHECKS)
        )
        out: list[dict[str, Any]] = []
        for check in checks:
            progress = await check_progress(session, check.id)
            out.append({**progress, "created_at": check.created_at.isoformat()})
    return web.json_response({"checks": out})


async def get_check(request: web.Request) -> web.Response:
    """GET /api/crm/checks/{check_id}: per operator, how much is done (supervisors)."""
    require_role(request, *SUPERVISOR_ROLES)
    async with request.app[SESSIONS]() as session:
        return web.json_response(await check_progress(session, path_id(request, "check_id")))


def routes() -> list[web.AbstractRouteDef]:
    """The CRM rule and check routes."""
    return [
        web.get("/api/crm/lines/{line_id}/required", get_required),
        web.put("/api/crm/lines/{line_id}/required", put_required),
        web.get("/api/crm/lines/{line_id}/checks", list_checks),
        web.post("/api/crm/lines/{line_id}/checks", run_check),
        web.get("/api/crm/checks/{check_id}", get_check),
    ]
