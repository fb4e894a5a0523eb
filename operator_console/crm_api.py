"""The console's CRM endpoints (docs/PROTOCOL.md, "CRM"): the client card, duplicates, merges
and unmerges, and an operator's fill-in tasks and points (an admin's rules and checks:
``operator_console.crm_admin_api``).

Reads come from ``crm_sink.views``; changes call the sink's ``do_*`` functions in one
transaction per request. Every client-scoped endpoint first checks that the caller may see the
client (``may_see_client``) and answers 404 otherwise, so ids of other operators' clients leak
nothing.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core import streams
from core.app_keys import BUS, SESSIONS
from core.db.crm_schema import CrmMerge
from core.db.schema import Client
from core.envelope import utcnow
from core.limits import InputError, RowId, loads_limited
from core.roles import SUPERVISOR_ROLES
from crm_sink.actions import CrmConflict, CrmWork, do_merge, do_not_duplicate, do_unmerge
from crm_sink.completeness import (
    BadField,
    ClientEdit,
    do_edit_client,
    points_by_operator,
    tasks_of,
)
from crm_sink.views import (
    client_card,
    dialog_client,
    duplicates_of,
    may_see_client,
    suggestion_json,
)
from operator_console.auth import http_error
from operator_console.bodies import path_id
from operator_console.keys import OPERATOR, SETTINGS


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EditBody(_Body):
    name: str | None = Field(default=None, max_length=255)
    company: str | None = Field(default=None, max_length=255)
    add_phone: str | None = Field(default=None, max_length=64)
    add_email: str | None = Field(default=None, max_length=320)
    remove_phone: str | None = Field(default=None, max_length=64)
    remove_email: str | None = Field(default=None, max_length=320)
    custom_fields: dict[str, str] = Field(default_factory=dict, max_length=50)


# The card field each body field is typed into, so a refusal can sit next to it.
_CARD_FIELD = {
    "add_phone": "phone",
    "remove_phone": "phone",
    "add_email": "email",
    "remove_email": "email",
    "custom_fields": "custom",
}


class PairBody(_Body):
    client_id: RowId
    other_id: RowId


B = TypeVar("B", bound=_Body)


async def _body(request: web.Request, model: type[B]) -> B:
    try:
        return model.model_validate(loads_limited(await request.read() or b"{}"))
    except InputError as exc:
        raise http_error(web.HTTPBadRequest, f"body: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise http_error(web.HTTPBadRequest, f"{where}: {first['msg']}") from exc


def _int(request: web.Request, name: str) -> int:
    return path_id(request, name)


async def check_visible_client(request: web.Request, session: AsyncSession, client_id: int) -> None:
    """404 unless the client exists and the caller may see it (``may_see_client``)."""
    exists = await session.get(Client, client_id)
    if exists is None or not await may_see_client(session, request[OPERATOR], client_id):
        raise http_error(web.HTTPNotFound, "no such client")


def _work(request: web.Request, session: AsyncSession) -> CrmWork:
    region = request.app[SETTINGS].crm_phone_region or None
    return CrmWork(session, utcnow(), region)


async def _card(session: AsyncSession, client_id: int) -> dict[str, Any]:
    card = await client_card(session, client_id)
    assert card is not None
    suggestions = await duplicates_of(session, client_id)
    names: dict[int, str] = {}
    for suggestion in suggestions:
        other = await session.get(Client, suggestion.other_id)
        names[suggestion.other_id] = other.name if other else ""
    card["duplicates"] = [suggestion_json(s, names) for s in suggestions]
    return card


async def get_client(request: web.Request) -> web.Response:
    """GET /api/crm/clients/{client_id}."""
    return await _client_response(request, _int(request, "client_id"))


async def _client_response(request: web.Request, client_id: int) -> web.Response:
    async with request.app[SESSIONS]() as session:
        await check_visible_client(request, session, client_id)
        card = await _card(session, client_id)
    if request[OPERATOR].role not in SUPERVISOR_ROLES:
        # Operators see only suggestions of clients they may see themselves.
        async with request.app[SESSIONS]() as session:
            card["duplicates"] = [
                d
                for d in card["duplicates"]
                if await may_see_client(session, request[OPERATOR], d["other_id"])
            ]
    return web.json_response({"client": card})


async def get_dialog_client(request: web.Request) -> web.Response:
    """GET /api/crm/dialogs/{dialog_id}/client: the card of a dialog's client."""
    dialog_id = _int(request, "dialog_id")
    async with request.app[SESSIONS]() as session:
        client_id = await dialog_client(session, dialog_id)
    if client_id is None:
        raise http_error(web.HTTPNotFound, "no such dialog")
    return await _client_response(request, client_id)


def _field_error(field: str, sentence: str) -> web.HTTPException:
    """A 400 whose reason is a sentence for the operator and whose ``field`` names the card
    field it belongs next to."""
    body = json.dumps({"error": sentence, "field": field})
    return web.HTTPBadRequest(text=body, content_type="application/json")


async def _edit_body(request: web.Request) -> EditBody:
    try:
        return EditBody.model_validate(loads_limited(await request.read() or b"{}"))
    except InputError as exc:
        raise _field_error("body", f"This cannot be saved: {exc}.") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        field = _CARD_FIELD.get(name, name)
        if first["type"] == "string_too_long":
            raise _field_error(field, "This is too long.") from exc
        raise _field_error(field or "body", "This cannot be saved: it is not text.") from exc


async def patch_client(request: web.Request) -> web.Response:
    """PATCH /api/crm/clients/{client_id}: fill or change fields; earns completeness points.

    A phone or email that is not one answers 400 with ``{"error": sentence, "field": kind}``.
    """
    client_id = _int(request, "client_id")
    body = await _edit_body(request)
    edit = ClientEdit(**body.model_dump())
    async with request.app[SESSIONS]() as session, session.begin():
        await check_visible_client(request, session, client_id)
        try:
            earned = await do_edit_client(
                _work(request, session), client_id, edit, request[OPERATOR].id
            )
        except BadField as exc:
            raise _field_error(exc.field, exc.sentence) from exc
    async with request.app[SESSIONS]() as session:
        card = await _card(session, client_id)
    return web.json_response({"client": card, "points_earned": earned})


async def _publish_events(request: web.Request, work: CrmWork) -> None:
    # After the transaction committed, so nothing announces a merge that was rolled back.
    await request.app[BUS].publish_many([(streams.EVENTS, event) for event in work.events])


async def merge_clients(request: web.Request) -> web.Response:
    """POST /api/crm/merges: merge a pair (admins; operators for clients they may see)."""
    body = await _body(request, PairBody)
    if body.client_id == body.other_id:
        raise http_error(web.HTTPBadRequest, "a client cannot be merged with itself")
    async with request.app[SESSIONS]() as session, session.begin():
        for cid in (body.client_id, body.other_id):
            await check_visible_client(request, session, cid)
        work = _work(request, session)
        try:
            merge = await do_merge(
                work, body.client_id, body.other_id, request[OPERATOR].id, "manual"
            )
        except CrmConflict as exc:
            raise http_error(web.HTTPConflict, str(exc)) from exc
    await _publish_events(request, work)
    return web.json_response(
        {"merge": {"id": merge.id, "main_id": merge.main_id, "dup_id": merge.dup_id}}, status=201
    )


async def undo_merge(request: web.Request) -> web.Response:
    """POST /api/crm/merges/{merge_id}/undo."""
    merge_id = _int(request, "merge_id")
    async with request.app[SESSIONS]() as session, session.begin():
        merge = await session.get(CrmMerge, merge_id)
        if merge is None:
            raise http_error(web.HTTPNotFound, "no such merge")
        await check_visible_client(request, session, merge.main_id)
        work = _work(request, session)
        try:
            await do_unmerge(work, merge_id, request[OPERATOR].id)
        except CrmConflict as exc:
            raise http_error(web.HTTPConflict, str(exc)) from exc
        main_id, dup_id = merge.main_id, merge.dup_id
    await _publish_events(request, work)
    return web.json_response({"merge": {"id": merge_id, "main_id": main_id, "dup_id": dup_id}})


async def not_duplicate(request: web.Request) -> web.Response:
    """POST /api/crm/not-duplicates: never suggest this pair again."""
    body = await _body(request, PairBody)
    async with request.app[SESSIONS]() as session, session.begin():
        for cid in (body.client_id, body.other_id):
            await check_visible_client(request, session, cid)
        await do_not_duplicate(
            _work(request, session), body.client_id, body.other_id, request[OPERATOR].id
        )
    return web.Response(status=204)


async def my_tasks(request: web.Request) -> web.Response:
    """GET /api/crm/tasks: the caller's incomplete fill-in tasks."""
    async with request.app[SESSIONS]() as session:
        return web.json_response({"tasks": await tasks_of(session, request[OPERATOR].id)})


async def points(request: web.Request) -> web.Response:
    """GET /api/crm/points: points per operator (supervisors see all, operators their own)."""
    operator = request[OPERATOR]
    async with request.app[SESSIONS]() as session:
        totals = await points_by_operator(session)
    if operator.role not in SUPERVISOR_ROLES:
        totals = {operator.id: totals.get(operator.id, 0)}
    return web.json_response(
        {"points": [{"operator_id": op, "points": p} for op, p in sorted(totals.items())]}
    )


def routes() -> list[web.AbstractRouteDef]:
    """The CRM routes."""
    return [
        web.get("/api/crm/clients/{client_id}", get_client),
        web.patch("/api/crm/clients/{client_id}", patch_client),
        web.get("/api/crm/dialogs/{dialog_id}/client", get_dialog_client),
        web.post("/api/crm/merges", merge_clients),
        web.post("/api/crm/merges/{merge_id}/undo", undo_merge),
        web.post("/api/crm/not-duplicates", not_duplicate),
        web.get("/api/crm/tasks", my_tasks),
        web.get("/api/crm/points", points),
    ]
