"""Admin endpoints for lines and operators (docs/PROTOCOL.md, "Admin: lines and operators").

Admins create and edit lines (identity, distribution mode, the ``LineSettings`` JSON with its
schedule) and their queues, and create, edit, disable and enable operators; managers may read.
Lines defined in openlines.toml (``source = "file"``) are rewritten at every start, so they are
read-only here: a change would be silently undone by the next restart.

The router reads a line's row and queue afresh in every batch, so a change applies to the next
message without any notice on the bus.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field, ValidationError, model_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.lines import LineSettings
from config.modes import Mode
from config.schedule import check_schedule
from core import streams
from core.app_keys import BUS, SESSIONS
from core.db.routing_schema import LineGroup, OperatorGroup, OperatorGroupMember
from core.db.schema import Channel, ConsoleSession, Line, LineOperator, Operator
from core.envelope import PresenceChange
from core.limits import RowId
from core.roles import READ_ONLY_ROLES, SUPERVISOR_ROLES, OperatorRole
from operator_console import groups_api
from operator_console.auth import hash_password, http_error, require_role
from operator_console.bodies import Body, path_id, read_body
from operator_console.views import operator_json

KEY = r"^[a-z0-9][a-z0-9_-]{0,63}$"
DISABLED = "disabled:"
"""Prefix of a disabled operator's password hash: no password can match it, and enabling
strips it, so the operator keeps their password."""
EMAIL_PATTERN = r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"
"""An operator's email: empty (none), or one address with a dotted domain."""


class LineBody(Body):
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=255)
    language: str = Field(default="en", min_length=1, max_length=16)
    timezone: str = Field(default="UTC", max_length=64)
    distribution: Mode = "evenly"
    settings: dict[str, Any] = Field(default_factory=dict)


class LineEditBody(Body):
    key: str | None = Field(default=None, pattern=KEY)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    language: str | None = Field(default=None, min_length=1, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    distribution: Mode | None = None
    settings: dict[str, Any] | None = None
    """The whole settings object: what is left out takes its default."""


class QueueEntry(Body):
    operator_id: RowId | None = None
    group_id: RowId | None = None
    """A group of operators (operator_console/groups_api.py) instead of one operator."""
    max_open_dialogs: int | None = Field(default=None, ge=1, le=1000)

    @model_validator(mode="after")
    def _one_target(self) -> QueueEntry:
        if (self.operator_id is None) == (self.group_id is None):
            raise ValueError("give exactly one of operator_id and group_id")
        return self


class QueueBody(Body):
    queue: list[QueueEntry] = Field(max_length=500)
    """Operators and groups in queue order."""


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


def check_line(timezone: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings as stored, or 400 naming the first bad field (``settings.…``)."""
    try:
        check_schedule({"timezone": timezone, "week": {}}, where="timezone")
    except ValueError as exc:
        # check_schedule names the nested key; the body's field is plain ``timezone``.
        reason = str(exc).replace("timezone.timezone", "timezone")
        raise http_error(web.HTTPBadRequest, reason) from exc
    try:
        parsed = LineSettings.model_validate(settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("settings", *first["loc"]))
        raise http_error(web.HTTPBadRequest, f"{where}: {first['msg']}") from exc
    try:
        parsed.build_schedule(timezone)
    except ValueError as exc:
        raise http_error(web.HTTPBadRequest, f"settings.{exc}") from exc
    return parsed.model_dump(mode="json")


def admin_operator_json(op: Operator) -> dict[str, Any]:
    """The admin view of an operator: the console's view plus limits and state."""
    return {
        **operator_json(op),
        "max_open_dialogs": op.max_open_dialogs,
        "email": op.email,
        "disabled": op.password_hash.startswith(DISABLED),
    }


async def _line_json(session: AsyncSession, line: Line) -> dict[str, Any]:
    queue = await session.scalars(
        select(LineOperator)
        .where(LineOperator.line_id == line.id)
        .order_by(LineOperator.position, LineOperator.operator_id)
    )
    groups = await session.scalars(select(LineGroup).where(LineGroup.line_id == line.id))
    entries: list[tuple[int, int, dict[str, Any]]] = [
        (q.position, 0, {"operator_id": q.operator_id, "max_open_dialogs": q.max_open_dialogs})
        for q in queue
    ]
    # Groups share the positions of operators; at one position the operator comes first,
    # as in the router's expansion (router/queue_groups.py).
    entries.extend(
        (g.position, 1, {"group_id": g.group_id, "max_open_dialogs": g.max_open_dialogs})
        for g in groups
    )
    entries.sort(key=lambda e: (e[0], e[1], e[2].get("operator_id") or e[2].get("group_id")))
    channels = await session.scalars(
        select(Channel).where(Channel.line_id == line.id).order_by(Channel.id)
    )
    return {
        "id": line.id,
        "key": line.key,
        "name": line.name,
        "language": line.language,
        "timezone": line.timezone,
        "distribution": line.distribution,
        "settings": line.settings or {},
        "source": line.source,
        "read_only": line.source == "file",
        "queue": [entry for _p, _k, entry in entries],
        "channels": [{"id": c.id, "kind": c.kind, "key": c.key, "name": c.name} for c in channels],
    }


async def _editable_line(session: AsyncSession, request: web.Request) -> Line:
    line = await session.get(Line, path_id(request, "line_id"))
    if line is None:
        raise http_error(web.HTTPNotFound, "no such line")
    if line.source == "file":
        raise http_error(
            web.HTTPConflict,
            "this line is defined in openlines.toml and is rewritten at every start; "
            "change it in the file",
        )
    return line


async def _key_free(session: AsyncSession, key: str, line_id: int | None = None) -> None:
    other = await session.scalar(select(Line.id).where(Line.key == key))
    if other is not None and other != line_id:
        raise http_error(web.HTTPConflict, "key: another line uses this key")


async def list_lines(request: web.Request) -> web.Response:
    """GET /api/admin/lines: every line with its queue and channels, every operator, and
    every group (to name the group entries of queues)."""
    require_role(request, *SUPERVISOR_ROLES)
    async with request.app[SESSIONS]() as session:
        lines = (await session.scalars(select(Line).order_by(Line.id))).all()
        operators = await session.scalars(select(Operator).order_by(Operator.id))
        groups = await session.scalars(select(OperatorGroup).order_by(OperatorGroup.name))
        return web.json_response(
            {
                "lines": [await _line_json(session, line) for line in lines],
                "operators": [admin_operator_json(op) for op in operators],
                "groups": [{"id": g.id, "name": g.name} for g in groups],
            }
        )


async def create_line(request: web.Request) -> web.Response:
    """POST /api/admin/lines."""
    require_role(request, "admin")
    body = await read_body(request, LineBody)
    settings = check_line(body.timezone, body.settings)
    async with request.app[SESSIONS]() as session, session.begin():
        await _key_free(session, body.key)
        line = Line(
            key=body.key,
            name=body.name,
            language=body.language,
            timezone=body.timezone,
            distribution=body.distribution,
            settings=settings,
            source="console",
        )
        session.add(line)
        await session.flush()
        view = await _line_json(session, line)
    return web.json_response({"line": view}, status=201)


async def edit_line(request: web.Request) -> web.Response:
    """PATCH /api/admin/lines/{id}: fields left out keep their value."""
    require_role(request, "admin")
    body = await read_body(request, LineEditBody)
    async with request.app[SESSIONS]() as session, session.begin():
        line = await _editable_line(session, request)
        timezone = body.timezone if body.timezone is not None else line.timezone
        # The schedule is checked in the zone it will run in, even when only the zone changed.
        settings = check_line(
            timezone, body.settings if body.settings is not None else line.settings or {}
        )
        if body.key is not None:
            await _key_free(session, body.key, line.id)
            line.key = body.key
        for field in ("name", "language", "distribution"):
            value = getattr(body, field)
            if value is not None:
                setattr(line, field, value)
        line.timezone = timezone
        line.settings = settings
        await session.flush()
        view = await _line_json(session, line)
    return web.json_response({"line": view})


async def set_queue(request: web.Request) -> web.Response:
    """PUT /api/admin/lines/{id}/queue: the whole queue, in order."""
    require_role(request, "admin")
    body = await read_body(request, QueueBody)
    ids = [entry.operator_id for entry in body.queue if entry.operator_id is not None]
    if len(set(ids)) != len(ids):
        raise http_error(web.HTTPBadRequest, "queue: an operator is listed twice")
    group_ids = [entry.group_id for entry in body.queue if entry.group_id is not None]
    if len(set(group_ids)) != len(group_ids):
        raise http_error(web.HTTPBadRequest, "queue: a group is listed twice")
    async with request.app[SESSIONS]() as session, session.begin():
        line = await _editable_line(session, request)
        roles: dict[int, str] = {
            op_id: role
            for op_id, role in await session.execute(
                select(Operator.id, Operator.role).where(Operator.id.in_(ids))
            )
        }
        known_groups = set(
            await session.scalars(select(OperatorGroup.id).where(OperatorGroup.id.in_(group_ids)))
        )
        for index, entry in enumerate(body.queue):
            if entry.operator_id is not None and entry.operator_id not in roles:
                raise http_error(web.HTTPBadRequest, f"queue.{index}.operator_id: no such operator")
            if entry.operator_id is not None and roles[entry.operator_id] in READ_ONLY_ROLES:
                raise http_error(
                    web.HTTPBadRequest, f"queue.{index}.operator_id: an analyst is never on a line"
                )
            if entry.group_id is not None and entry.group_id not in known_groups:
                raise http_error(web.HTTPBadRequest, f"queue.{index}.group_id: no such group")
        await session.execute(delete(LineOperator).where(LineOperator.line_id == line.id))
        await session.execute(delete(LineGroup).where(LineGroup.line_id == line.id))
        for position, entry in enumerate(body.queue):
            if entry.group_id is not None:
                session.add(
                    LineGroup(
                        line_id=line.id,
                        group_id=entry.group_id,
                        position=position,
                        max_open_dialogs=entry.max_open_dialogs,
                    )
                )
            else:
                assert entry.operator_id is not None
                session.add(
                    LineOperator(
                        line_id=line.id,
                        operator_id=entry.operator_id,
                        position=position,
                        max_open_dialogs=entry.max_open_dialogs,
                    )
                )
        await session.flush()
        view = await _line_json(session, line)
    return web.json_response({"line": view})


async def list_operators(request: web.Request) -> web.Response:
    """GET /api/admin/operators."""
    require_role(request, *SUPERVISOR_ROLES)
    async with request.app[SESSIONS]() as session:
        rows = await session.scalars(select(Operator).order_by(Operator.id))
        return web.json_response({"operators": [admin_operator_json(op) for op in rows]})


async def _operator(session: AsyncSession, request: web.Request) -> Operator:
    operator = await session.get(Operator, path_id(request, "operator_id"))
    if operator is None:
        raise http_error(web.HTTPNotFound, "no such operator")
    return operator


async def create_operator(request: web.Request) -> web.Response:
    """POST /api/admin/operators."""
    require_role(request, "admin")
    body = await read_body(request, OperatorBody)
    async with request.app[SESSIONS]() as session, session.begin():
        if await session.scalar(select(Operator.id).where(Operator.login == body.login)):
            raise http_error(web.HTTPConflict, "login: another operator uses this login")
        operator = Operator(
            login=body.login,
            name=body.name,
            role=body.role,
            password_hash=hash_password(body.password),
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
    body = await read_body(request, OperatorEditBody)
    async with request.app[SESSIONS]() as session, session.begin():
        operator = await _operator(session, request)
        if operator.id == me.id and body.role not in (None, "admin"):
            raise http_error(web.HTTPConflict, "role: you cannot demote yourself")
        if body.name is not None:
            operator.name = body.name
        if body.role is not None:
            if body.role in READ_ONLY_ROLES and body.role != operator.role:
                await _check_off_every_queue(session, operator.id)
            operator.role = body.role
        if body.password is not None:
            prefix = DISABLED if operator.password_hash.startswith(DISABLED) else ""
            operator.password_hash = prefix + hash_password(body.password)
        if body.max_open_dialogs is not None:
            operator.max_open_dialogs = body.max_open_dialogs
        elif body.clear_max_open_dialogs:
            operator.max_open_dialogs = None
        if body.email is not None:
            operator.email = body.email or None
        await session.flush()
        view = admin_operator_json(operator)
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
        operator = await _operator(session, request)
        if operator.id == me.id:
            raise http_error(web.HTTPConflict, "you cannot disable yourself")
        if not operator.password_hash.startswith(DISABLED):
            operator.password_hash = DISABLED + operator.password_hash
        await session.execute(
            delete(ConsoleSession).where(ConsoleSession.operator_id == operator.id)
        )
        await session.flush()
        view = admin_operator_json(operator)
    # Through the router, like any presence change: it hands their pending offers on.
    await request.app[BUS].publish(
        streams.COMMANDS, PresenceChange(operator_id=view["id"], status="offline")
    )
    return web.json_response({"operator": view})


async def enable_operator(request: web.Request) -> web.Response:
    """POST /api/admin/operators/{id}/enable: they may log in again with their password."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session, session.begin():
        operator = await _operator(session, request)
        operator.password_hash = operator.password_hash.removeprefix(DISABLED)
        await session.flush()
        view = admin_operator_json(operator)
    return web.json_response({"operator": view})


def routes() -> list[web.AbstractRouteDef]:
    """The line and operator admin routes."""
    return [
        web.get("/api/admin/lines", list_lines),
        web.post("/api/admin/lines", create_line),
        web.patch("/api/admin/lines/{line_id}", edit_line),
        web.put("/api/admin/lines/{line_id}/queue", set_queue),
        web.get("/api/admin/operators", list_operators),
        web.post("/api/admin/operators", create_operator),
        web.patch("/api/admin/operators/{operator_id}", edit_operator),
        web.post("/api/admin/operators/{operator_id}/disable", disable_operator),
        web.post("/api/admin/operators/{operator_id}/enable", enable_operator),
        *groups_api.routes(),
    ]
