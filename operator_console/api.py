"""The console's REST API (docs/PROTOCOL.md). Reads come from the database; every change to a
dialog goes to the router as a command on the bus, so the router stays the only writer."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import streams
from core.db.routing_schema import DialogParticipant
from core.db.schema import Channel, Client, Dialog, Line, LineOperator, Message, Operator
from core.envelope import MAX_TEXT, CloseDialog, DialogView, OperatorReply, PresenceChange
from core.views import dialog_view, message_view
from operator_console.auth import (
    COOKIE,
    SUPERVISORS,
    check_password,
    do_create_session,
    do_end_session,
    http_error,
)
from operator_console.keys import BUS, OPERATOR, SESSIONS, SETTINGS
from operator_console.routing_views import routing_extras

LIST_LIMIT = 500

DialogQuery = Select[Dialog, Line, Channel, Client]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    login: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class PresenceBody(_Body):
    status: Literal["online", "away", "offline"]


class ReplyBody(_Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    client_msg_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


def error(status: int, reason: str) -> web.Response:
    """A JSON error answer."""
    return web.json_response({"error": reason}, status=status)


B = TypeVar("B", bound=_Body)


async def _body(request: web.Request, model: type[B]) -> B:
    try:
        return model.model_validate_json(await request.read() or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise http_error(web.HTTPBadRequest, f"{where}: {first['msg']}") from exc


def operator_json(op: Operator) -> dict[str, Any]:
    """The console's view of an operator."""
    return {"id": op.id, "login": op.login, "name": op.name, "role": op.role, "status": op.status}


async def login(request: web.Request) -> web.Response:
    """POST /api/login."""
    body = await _body(request, LoginBody)
    sessions = request.app[SESSIONS]
    async with sessions() as session:
        operator = await session.scalar(select(Operator).where(Operator.login == body.login))
    if operator is None or not check_password(operator.password_hash, body.password):
        return error(401, "wrong login or password")
    token = await do_create_session(sessions, operator.id, request.app[SETTINGS].session_hours)
    await request.app[BUS].publish(
        streams.COMMANDS, PresenceChange(operator_id=operator.id, status="online")
    )
    operator.status = "online"
    response = web.json_response({"operator": operator_json(operator)})
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        path="/",
        max_age=request.app[SETTINGS].session_hours * 3600,
        secure=request.secure,
    )
    return response


async def logout(request: web.Request) -> web.Response:
    """POST /api/logout."""
    await do_end_session(request.app[SESSIONS], request.cookies.get(COOKIE, ""))
    await request.app[BUS].publish(
        streams.COMMANDS, PresenceChange(operator_id=request[OPERATOR].id, status="offline")
    )
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    """GET /api/me."""
    return web.json_response({"operator": operator_json(request[OPERATOR])})


async def presence(request: web.Request) -> web.Response:
    """POST /api/presence."""
    body = await _body(request, PresenceBody)
    await request.app[BUS].publish(
        streams.COMMANDS, PresenceChange(operator_id=request[OPERATOR].id, status=body.status)
    )
    return web.json_response({"status": body.status}, status=202)


def _visible(query: DialogQuery, operator: Operator) -> DialogQuery:
    """Limit a dialog query to what ``operator`` may see: supervisors see every dialog; an
    operator sees their own and the ones waiting on their lines."""
    if operator.role in SUPERVISORS:
        return query
    my_lines = select(LineOperator.line_id).where(LineOperator.operator_id == operator.id)
    joined = select(DialogParticipant.dialog_id).where(
        DialogParticipant.operator_id == operator.id
    )
    return query.where(
        or_(
            Dialog.operator_id == operator.id,
            (Dialog.status == "waiting") & Dialog.line_id.in_(my_lines),
            Dialog.id.in_(joined),
        )
    )


async def _views(session: AsyncSession, query: DialogQuery) -> list[DialogView]:
    rows = (await session.execute(query)).all()
    ids = [d.id for d, *_ in rows]
    last_ids = (
        select(func.max(Message.id)).where(Message.dialog_id.in_(ids)).group_by(Message.dialog_id)
    )
    last = {
        m.dialog_id: m
        for m in await session.scalars(select(Message).where(Message.id.in_(last_ids)))
    }
    offers, people = await routing_extras(session, ids)
    return [
        dialog_view(d, line, ch, cl, last.get(d.id), offers.get(d.id, ()), people.get(d.id, ()))
        for d, line, ch, cl in rows
    ]


def _dialog_query() -> DialogQuery:
    return (
        select(Dialog, Line, Channel, Client)
        .join(Line, Line.id == Dialog.line_id)
        .join(Channel, Channel.id == Dialog.channel_id)
        .join(Client, Client.id == Dialog.client_id)
    )


async def list_dialogs(request: web.Request) -> web.Response:
    """GET /api/dialogs."""
    status = request.query.get("status", "open")
    query = _visible(_dialog_query(), request[OPERATOR])
    if status == "open":
        query = query.where(Dialog.status.in_(("waiting", "open")))
    elif status == "closed":
        query = query.where(Dialog.status == "closed")
    elif status != "all":
        return error(400, "status: one of open, closed, all")
    query = query.order_by(Dialog.last_message_at.desc()).limit(LIST_LIMIT)
    async with request.app[SESSIONS]() as session:
        views = await _views(session, query)
    return web.json_response({"dialogs": [v.model_dump(mode="json") for v in views]})


async def _visible_dialog(request: web.Request, session: AsyncSession) -> DialogView:
    try:
        dialog_id = int(request.match_info["dialog_id"])
    except ValueError:
        raise http_error(web.HTTPNotFound, "no such dialog") from None
    views = await _views(
        session, _visible(_dialog_query().where(Dialog.id == dialog_id), request[OPERATOR])
    )
    if not views:
        raise http_error(web.HTTPNotFound, "no such dialog")
    return views[0]


async def get_dialog(request: web.Request) -> web.Response:
    """GET /api/dialogs/{id}."""
    async with request.app[SESSIONS]() as session:
        view = await _visible_dialog(request, session)
        messages = await session.scalars(
            select(Message).where(Message.dialog_id == view.id).order_by(Message.id)
        )
        payload = [message_view(m).model_dump(mode="json") for m in messages]
    return web.json_response({"dialog": view.model_dump(mode="json"), "messages": payload})


async def post_message(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/messages."""
    body = await _body(request, ReplyBody)
    async with request.app[SESSIONS]() as session:
        view = await _visible_dialog(request, session)
    if view.status == "closed":
        return error(409, "the dialog is closed")
    await request.app[BUS].publish(
        streams.COMMANDS,
        OperatorReply(
            dialog_id=view.id,
            operator_id=request[OPERATOR].id,
            client_msg_id=body.client_msg_id,
            text=body.text,
        ),
    )
    return web.json_response({"client_msg_id": body.client_msg_id}, status=202)


async def close_dialog(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/close."""
    async with request.app[SESSIONS]() as session:
        view = await _visible_dialog(request, session)
    await request.app[BUS].publish(
        streams.COMMANDS, CloseDialog(dialog_id=view.id, operator_id=request[OPERATOR].id)
    )
    return web.json_response({"dialog_id": view.id}, status=202)


def routes() -> list[web.AbstractRouteDef]:
    """The REST routes."""
    return [
        web.post("/api/login", login),
        web.post("/api/logout", logout),
        web.get("/api/me", me),
        web.post("/api/presence", presence),
        web.get("/api/dialogs", list_dialogs),
        web.get("/api/dialogs/{dialog_id}", get_dialog),
        web.post("/api/dialogs/{dialog_id}/messages", post_message),
        web.post("/api/dialogs/{dialog_id}/close", close_dialog),
    ]
