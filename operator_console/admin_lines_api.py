"""Admin endpoints for lines (docs/PROTOCOL.md, "Admin: lines and operators").

Admins create and edit lines (identity, distribution mode, the ``LineSettings`` JSON with its
schedule) and their queues, the queue already in the create request if they like; managers
may read. Lines defined in openlines.toml (``source = "file"``) are rewritten at every start,
so they are read-only here: a change would be silently undone by the next restart.

A refused setting answers with the field it concerns and a sentence for the admin
(``operator_console.field_errors``), so the form shows it next to that input.

The router keeps a line's setup between batches only while the database's ``setup_version``
(moved by triggers on every write to these tables) stays the same, so a change applies to the
next message without any notice on the bus.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.lines import LineSettings
from config.modes import Mode
from config.schedule import check_schedule
from core.app_keys import SESSIONS
from core.db.routing_schema import LineGroup, OperatorGroup
from core.db.schema import Channel, Line, LineOperator, Operator
from core.limits import RowId
from core.roles import READ_ONLY_ROLES, SUPERVISOR_ROLES
from operator_console.admin_operators_api import admin_operator_json
from operator_console.auth import http_error, require_role
from operator_console.bodies import Body, path_row
from operator_console.field_errors import (
    FieldError,
    field_error_response,
    pydantic_field_errors,
    read_form_body,
    schedule_field_error,
)
from operator_console.line_queue import do_replace_queue

KEY = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class QueueEntry(Body):
    operator_id: RowId | None = None
    group_id: RowId | None = None
    """A group of operators (operator_console/groups_api.py) instead of one operator."""
    max_open_dialogs: int | None = Field(default=None, ge=1, le=1000)

    @model_validator(mode="after")
    def _one_target(self) -> QueueEntry:
        if (self.operator_id is None) == (self.group_id is None):
            raise ValueError("choose an operator or a group for each place in the queue")
        return self


class LineBody(Body):
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=255)
    language: str = Field(default="en", min_length=1, max_length=16)
    timezone: str = Field(default="UTC", max_length=64)
    distribution: Mode = "evenly"
    settings: dict[str, Any] = Field(default_factory=dict)
    queue: list[QueueEntry] = Field(default_factory=list, max_length=500)
    """Operators and groups in queue order, set together with the new line."""


class LineEditBody(Body):
    key: str | None = Field(default=None, pattern=KEY)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    language: str | None = Field(default=None, min_length=1, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    distribution: Mode | None = None
    settings: dict[str, Any] | None = None
    """The whole settings object: what is left out takes its default."""


class QueueBody(Body):
    queue: list[QueueEntry] = Field(max_length=500)
    """Operators and groups in queue order."""


def check_line(timezone: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings as stored, or 400 naming each bad field with a sentence."""
    try:
        check_schedule({"timezone": timezone, "week": {}}, where="timezone")
    except ValueError:
        sentence = "Choose a time zone such as Europe/Berlin."
        raise field_error_response([FieldError("timezone", sentence)]) from None
    try:
        parsed = LineSettings.model_validate(settings)
    except ValidationError as exc:
        raise field_error_response(pydantic_field_errors(exc, "settings")) from exc
    try:
        parsed.build_schedule(timezone)
    except ValueError as exc:
        raise field_error_response([schedule_field_error(str(exc))]) from exc
    if parsed.auto_replies.no_answer.strip() and parsed.no_answer_seconds is None:
        # The router sends the no-answer text when the no-answer time runs out; without a
        # time the text the admin wrote would never be sent.
        sentence = "Set the no-answer time, or this auto-reply is never sent."
        raise field_error_response([FieldError("settings.no_answer_seconds", sentence)])
    return parsed.model_dump(mode="json")


async def line_json(session: AsyncSession, line: Line) -> dict[str, Any]:
    """A line as the admin screens show it: identity, settings, queue and channels."""
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
    line = await path_row(session, request, Line, "line_id")
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
        error = FieldError("key", "Another line uses this key.")
        raise field_error_response([error], web.HTTPConflict)


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
                "lines": [await line_json(session, line) for line in lines],
                "operators": [admin_operator_json(op) for op in operators],
                "groups": [{"id": g.id, "name": g.name} for g in groups],
            }
        )


async def create_line(request: web.Request) -> web.Response:
    """POST /api/admin/lines: the line, and its queue when the body has one."""
    require_role(request, "admin")
    body = await read_form_body(request, LineBody)
    settings = check_line(body.timezone, body.settings)
    _check_unique(body.queue)
    async with request.app[SESSIONS]() as session, session.begin():
        await _key_free(session, body.key)
        await _check_targets(session, body.queue)
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
        await do_replace_queue(session, line.id, body.queue)
        view = await line_json(session, line)
    return web.json_response({"line": view}, status=201)


async def edit_line(request: web.Request) -> web.Response:
    """PATCH /api/admin/lines/{id}: fields left out keep their value."""
    require_role(request, "admin")
    body = await read_form_body(request, LineEditBody)
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
        view = await line_json(session, line)
    return web.json_response({"line": view})


def _check_unique(queue: list[QueueEntry]) -> None:
    ids = [entry.operator_id for entry in queue if entry.operator_id is not None]
    if len(set(ids)) != len(ids):
        raise field_error_response([FieldError("queue", "An operator is listed twice.")])
    group_ids = [entry.group_id for entry in queue if entry.group_id is not None]
    if len(set(group_ids)) != len(group_ids):
        raise field_error_response([FieldError("queue", "A group is listed twice.")])


async def _check_targets(session: AsyncSession, queue: list[QueueEntry]) -> None:
    """400 for a queue place naming an unknown operator or group, or an analyst."""
    ids = [entry.operator_id for entry in queue if entry.operator_id is not None]
    group_ids = [entry.group_id for entry in queue if entry.group_id is not None]
    roles: dict[int, str] = {
        op_id: role
        for op_id, role in await session.execute(
            select(Operator.id, Operator.role).where(Operator.id.in_(ids))
        )
    }
    known_groups = set(
        await session.scalars(select(OperatorGroup.id).where(OperatorGroup.id.in_(group_ids)))
    )
    for index, entry in enumerate(queue):
        where = f"queue.{index}"
        if entry.operator_id is not None and entry.operator_id not in roles:
            sentence = "This operator does not exist."
            raise field_error_response([FieldError(f"{where}.operator_id", sentence)])
        if entry.operator_id is not None and roles[entry.operator_id] in READ_ONLY_ROLES:
            sentence = "An analyst is never on a line."
            raise field_error_response([FieldError(f"{where}.operator_id", sentence)])
        if entry.group_id is not None and entry.group_id not in known_groups:
            sentence = "This group does not exist."
            raise field_error_response([FieldError(f"{where}.group_id", sentence)])


async def set_queue(request: web.Request) -> web.Response:
    """PUT /api/admin/lines/{id}/queue: the whole queue, in order."""
    require_role(request, "admin")
    body = await read_form_body(request, QueueBody)
    _check_unique(body.queue)
    async with request.app[SESSIONS]() as session, session.begin():
        line = await _editable_line(session, request)
        await _check_targets(session, body.queue)
        await do_replace_queue(session, line.id, body.queue)
        view = await line_json(session, line)
    return web.json_response({"line": view})


def routes() -> list[web.AbstractRouteDef]:
    """The line admin routes."""
    return [
        web.get("/api/admin/lines", list_lines),
        web.post("/api/admin/lines", create_line),
        web.patch("/api/admin/lines/{line_id}", edit_line),
        web.put("/api/admin/lines/{line_id}/queue", set_queue),
    ]
