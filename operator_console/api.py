"""The console's REST API (docs/PROTOCOL.md). Reads come from the database; every change to a
dialog goes to the router as a command on the bus, so the router stays the only writer."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field, model_validator
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import streams
from core.app_keys import BUS, SECRET_KEY, SESSIONS
from core.audience import visible_dialogs
from core.db.schema import Dialog, Operator
from core.envelope import (
    MAX_REPLY_TEXT,
    CloseDialog,
    DialogView,
    OperatorReply,
    PresenceChange,
    utcnow,
)
from core.presence import arm_grace
from core.uploads import UploadedFile
from operator_console.auth import (
    COOKIE,
    SESSION_CACHE,
    do_create_session,
    do_end_session,
    http_error,
    password_matches,
)
from operator_console.bodies import Body, path_id, read_body
from operator_console.dialog_reads import (
    LIST_STATUSES,
    list_json,
    listed,
    read_dialog,
    read_list,
)
from operator_console.dialog_status import DIALOG_STATUS, NOT_HERE, SeenDialog
from operator_console.dialog_views import (
    DialogQuery,
    dialog_query,
    dialog_views,
    dialog_with_messages,
)
from operator_console.keys import LOGIN_GUARD, OPERATOR, SETTINGS
from operator_console.live import HUB
from operator_console.uploads import MAX_FILES, check_uploads
from operator_console.views import operator_json


class LoginBody(Body):
    login: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class PresenceBody(Body):
    status: Literal["online", "away", "offline"]


class ReplyBody(Body):
    text: str = Field(default="", max_length=MAX_REPLY_TEXT)
    client_msg_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    attachments: list[UploadedFile] = Field(default=[], max_length=MAX_FILES)
    """Files from ``POST /api/dialogs/{id}/files``, sent back as that answer gave them."""

    @model_validator(mode="after")
    def _says_something(self) -> ReplyBody:
        if not self.text and not self.attachments:
            raise ValueError("text: write something or attach a file")
        return self


def error(status: int, reason: str) -> web.Response:
    """A JSON error answer."""
    return web.json_response({"error": reason}, status=status)


async def login(request: web.Request) -> web.Response:
    """POST /api/login."""
    body = await read_body(request, LoginBody)
    guard, ip = request.app[LOGIN_GUARD], request.remote or "unknown"
    wait = await guard.retry_after(body.login, ip)
    if wait:
        response = error(429, f"too many failed logins; try again in {wait} s")
        response.headers["Retry-After"] = str(wait)
        return response
    sessions = request.app[SESSIONS]
    async with sessions() as session:
        operator = await session.scalar(select(Operator).where(Operator.login == body.login))
    stored_hash = operator.password_hash if operator is not None else None
    right = await password_matches(stored_hash, body.password)
    if operator is None or not right:
        await guard.do_record_failure(body.login, ip)
        return error(401, "wrong login or password")
    await guard.do_record_success(body.login)
    token = await do_create_session(sessions, operator.id, request.app[SETTINGS].session_hours)
    hub = request.app[HUB]
    await hub.sockets.choose(operator.id, "online")
    await request.app[BUS].publish(
        streams.COMMANDS, PresenceChange(operator_id=operator.id, status="online")
    )
    # A sign-in without a console socket is not presence: unless a console connects within the
    # grace, the router takes the operator offline again.
    await arm_grace(hub.timers, operator.id, utcnow() + hub.grace)
    operator.status = "online"
    response = web.json_response({"operator": operator_json(operator)})
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        path="/",
        max_age=request.app[SETTINGS].session_hours * 3600,
        secure=request.secure,
    )
    return response


async def logout(request: web.Request) -> web.Response:
    """POST /api/logout."""
    await do_end_session(request.app[SESSION_CACHE], request.cookies.get(COOKIE, ""))
    request.app[HUB].recheck_sessions(request[OPERATOR].id)
    await request.app[HUB].sockets.choose(request[OPERATOR].id, None)
    await request.app[BUS].publish(
        streams.COMMANDS, PresenceChange(operator_id=request[OPERATOR].id, status="offline")
    )
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    """GET /api/me."""
    # The session cache may hold a few seconds' old row; presence changes through the router,
    # so read the current one.
    async with request.app[SESSIONS]() as session:
        operator = await session.get(Operator, request[OPERATOR].id)
    return web.json_response({"operator": operator_json(operator or request[OPERATOR])})


async def presence(request: web.Request) -> web.Response:
    """POST /api/presence."""
    body = await read_body(request, PresenceBody)
    # Remembered for the operator's next console socket: a reconnect restores this choice.
    await request.app[HUB].sockets.choose(request[OPERATOR].id, body.status)
    await request.app[BUS].publish(
        streams.COMMANDS, PresenceChange(operator_id=request[OPERATOR].id, status=body.status)
    )
    return web.json_response({"status": body.status}, status=202)


def _visible(query: DialogQuery, operator: Operator) -> DialogQuery:
    """Limit a dialog query to what ``operator`` may see (``core.audience``, the rule the
    router's live events follow)."""
    rule = _visibility(operator)
    return query if rule is None else query.where(rule)


def _visibility(operator: Operator) -> ColumnElement[bool] | None:
    """The condition on ``Dialog`` of ``_visible``; None when every dialog is visible."""
    return visible_dialogs(operator.id, operator.role)


async def _visible_status(request: web.Request) -> SeenDialog:
    """``visible_status`` of the dialog in the request's path, for its caller."""
    return await visible_status(request.app, path_id(request, "dialog_id"), request[OPERATOR])


async def visible_status(app: web.Application, dialog_id: int, operator: Operator) -> SeenDialog:
    """A visible dialog's id and status, in one narrow query: what a reply needs to know
    (the router checks the reply again), without the view ``_visible_dialog`` builds; 404
    when ``operator`` may not see it."""
    seen = await app[DIALOG_STATUS].status(dialog_id, operator)
    if seen is None:
        raise http_error(web.HTTPNotFound, "no such dialog")
    return seen


async def list_dialogs(request: web.Request) -> web.Response:
    """GET /api/dialogs."""
    status = request.query.get("status", "open")
    if status not in LIST_STATUSES:
        return error(400, "status: one of open, closed, all")
    operator = request[OPERATOR]
    views = await read_list(request.app[DIALOG_STATUS], status, operator.id, operator.role)
    if views is NOT_HERE:
        async with request.app[SESSIONS]() as session:
            views = await dialog_views(session, listed(_visible(dialog_query(), operator), status))
    return web.Response(body=list_json(views), content_type="application/json")


async def _visible_dialog(request: web.Request, session: AsyncSession) -> DialogView:
    dialog_id = path_id(request, "dialog_id")
    views = await dialog_views(
        session, _visible(dialog_query().where(Dialog.id == dialog_id), request[OPERATOR])
    )
    if not views:
        raise http_error(web.HTTPNotFound, "no such dialog")
    return views[0]


async def get_dialog(request: web.Request) -> web.Response:
    """GET /api/dialogs/{id}."""
    operator = request[OPERATOR]
    found = await read_dialog(
        request.app[DIALOG_STATUS], path_id(request, "dialog_id"), operator.id, operator.role
    )
    if found is NOT_HERE:
        query = dialog_query().where(Dialog.id == path_id(request, "dialog_id"))
        async with request.app[SESSIONS]() as session:
            found = await dialog_with_messages(session, _visible(query, operator))
    if found is None:
        raise http_error(web.HTTPNotFound, "no such dialog")
    return web.Response(body=found.json(), content_type="application/json")


async def post_message(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/messages."""
    body = await read_body(request, ReplyBody)
    await queue_reply(request.app, request[OPERATOR], path_id(request, "dialog_id"), body)
    return web.json_response({"client_msg_id": body.client_msg_id}, status=202)


async def queue_reply(
    app: web.Application, operator: Operator, dialog_id: int, body: ReplyBody
) -> None:
    """Hand ``operator``'s reply to the router, for ``POST /api/dialogs/{id}/messages`` and
    for the operator socket (``operator_socket``): a 404 when they may not see the dialog, a
    409 when it is closed, a 400 for a file not uploaded to it. The router checks it again."""
    seen = await visible_status(app, dialog_id, operator)
    if seen.status == "closed":
        raise http_error(web.HTTPConflict, "the dialog is closed")
    await app[BUS].publish(
        streams.COMMANDS,
        OperatorReply(
            dialog_id=seen.id,
            operator_id=operator.id,
            client_msg_id=body.client_msg_id,
            text=body.text,
            attachments=check_uploads(app[SECRET_KEY], seen.id, body.attachments),
        ),
    )


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
