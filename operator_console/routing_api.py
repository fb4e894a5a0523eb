"""The console's routing endpoints: take and skip offers, transfer, invite, join, leave,
hidden notes, the routing audit, and the colleagues and lines to pick from.

Like ``api``: reads come from the database, every change goes to the router as a command.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from core import streams
from core.app_keys import BUS, SESSIONS
from core.db.routing_schema import member_lines
from core.db.schema import Dialog, Line, Operator
from core.envelope import (
    MAX_TEXT,
    HiddenNote,
    InviteColleague,
    LeaveDialog,
    SkipOffer,
    TakeOffer,
    TransferDialog,
    utcnow,
)
from core.limits import RowId
from core.roles import READ_ONLY_ROLES, SUPERVISOR_ROLES
from operator_console.api import _visible_dialog, error
from operator_console.bodies import Body, read_body
from operator_console.keys import OPERATOR
from operator_console.routing_views import audit_of
from operator_console.views import operator_json
from router.commands import take_refusal


class TransferBody(Body):
    to_operator_id: RowId | None = None
    to_line_id: RowId | None = None
    comment: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _one_target(self) -> TransferBody:
        if (self.to_operator_id is None) == (self.to_line_id is None):
            raise ValueError("give exactly one of to_operator_id and to_line_id")
        return self


class InviteBody(Body):
    colleague_id: RowId


class NoteBody(Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    client_msg_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


async def _open_dialog_id(request: web.Request) -> int:
    async with request.app[SESSIONS]() as session:
        view = await _visible_dialog(request, session)
    if view.status == "closed":
        raise web.HTTPConflict(
            text='{"error": "the dialog is closed"}', content_type="application/json"
        )
    return view.id


async def _send(request: web.Request, command: BaseModel) -> web.Response:
    await request.app[BUS].publish(streams.COMMANDS, command)
    return web.json_response({"accepted": True}, status=202)


TAKE_REFUSED = {
    "closed": "the dialog is closed",
    "already_taken": "another operator has already taken it",
    "offered_to_someone_else": "it is offered to another operator",
    "not_on_line": "you are not in this line's queue",
    "offline": "you are offline; go online or away to take dialogs",
    "at_capacity_line": (
        "you already have as many open dialogs on this line as it allows you; close one first"
    ),
    "at_capacity_total": (
        "you already have as many open dialogs as you may have in all; close one first"
    ),
}
"""What the operator is told when the router would refuse their take, by audit reason."""


async def take(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/take; 409 with the reason when the take would be refused."""
    dialog_id = await _open_dialog_id(request)
    operator_id = request[OPERATOR].id
    async with request.app[SESSIONS]() as session:
        refusal = await take_refusal(session, dialog_id, operator_id, utcnow())
    if refusal is not None:
        return error(409, TAKE_REFUSED.get(refusal, refusal.replace("_", " ")))
    return await _send(request, TakeOffer(dialog_id=dialog_id, operator_id=operator_id))


async def skip(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/skip."""
    dialog_id = await _open_dialog_id(request)
    return await _send(request, SkipOffer(dialog_id=dialog_id, operator_id=request[OPERATOR].id))


async def _may_supervise(request: web.Request, dialog_id: int) -> bool:
    """Whether the operator supervises the dialog: an admin any, a manager those of their lines
    (in the queue directly or through a group); seeing a dialog they were invited into is not
    enough to join or take over."""
    operator = request[OPERATOR]
    if operator.role == "admin":
        return True
    if operator.role not in SUPERVISOR_ROLES:
        return False
    async with request.app[SESSIONS]() as session:
        found = await session.scalar(
            select(Dialog.id).where(
                Dialog.id == dialog_id, Dialog.line_id.in_(member_lines(operator.id))
            )
        )
    return found is not None


async def _unknown_target(request: web.Request, body: TransferBody) -> str | None:
    """Why the transfer's target cannot take the dialog (an unknown line, an unknown
    operator or an analyst), or ``None``: refused here, not dropped later by the router."""
    async with request.app[SESSIONS]() as session:
        if body.to_line_id is not None:
            line = await session.get(Line, body.to_line_id)
            return None if line is not None else "to_line_id: no such line"
        target = await session.get(Operator, body.to_operator_id)
    if target is None or target.role in READ_ONLY_ROLES:
        return "to_operator_id: no such colleague"
    return None


async def transfer(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/transfer; to oneself by a supervisor: a takeover."""
    body = await read_body(request, TransferBody)
    dialog_id = await _open_dialog_id(request)
    unknown = await _unknown_target(request, body)
    if unknown is not None:
        return error(400, unknown)
    operator = request[OPERATOR]
    takeover = body.to_operator_id == operator.id and operator.role in SUPERVISOR_ROLES
    if takeover and not await _may_supervise(request, dialog_id):
        return error(403, "managers take over dialogs of their own lines only")
    return await _send(
        request,
        TransferDialog(
            dialog_id=dialog_id,
            operator_id=request[OPERATOR].id,
            to_operator_id=body.to_operator_id,
            to_line_id=body.to_line_id,
            comment=body.comment,
        ),
    )


async def invite(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/invite."""
    body = await read_body(request, InviteBody)
    dialog_id = await _open_dialog_id(request)
    me = request[OPERATOR].id
    command = InviteColleague(dialog_id=dialog_id, operator_id=me, colleague_id=body.colleague_id)
    return await _send(request, command)


async def join(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/join: a supervisor joins a dialog of their lines."""
    operator = request[OPERATOR]
    if operator.role not in SUPERVISOR_ROLES:
        return error(403, "only managers and admins join dialogs")
    dialog_id = await _open_dialog_id(request)
    if not await _may_supervise(request, dialog_id):
        return error(403, "managers join dialogs of their own lines only")
    return await _send(
        request,
        InviteColleague(dialog_id=dialog_id, operator_id=operator.id, colleague_id=operator.id),
    )


async def leave(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/leave."""
    dialog_id = await _open_dialog_id(request)
    return await _send(request, LeaveDialog(dialog_id=dialog_id, operator_id=request[OPERATOR].id))


async def note(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/notes: a hidden message for colleagues."""
    body = await read_body(request, NoteBody)
    dialog_id = await _open_dialog_id(request)
    await request.app[BUS].publish(
        streams.COMMANDS,
        HiddenNote(
            dialog_id=dialog_id,
            operator_id=request[OPERATOR].id,
            client_msg_id=body.client_msg_id,
            text=body.text,
        ),
    )
    return web.json_response({"client_msg_id": body.client_msg_id}, status=202)


async def audit(request: web.Request) -> web.Response:
    """GET /api/dialogs/{id}/audit: the dialog's routing audit, oldest first."""
    async with request.app[SESSIONS]() as session:
        view = await _visible_dialog(request, session)
        records = await audit_of(session, view.id)
    return web.json_response({"audit": records})


async def colleagues(request: web.Request) -> web.Response:
    """GET /api/colleagues: operators and lines to transfer to or invite."""
    async with request.app[SESSIONS]() as session:
        # An analyst never gets dialogs: nobody to transfer to or invite.
        people = await session.scalars(
            select(Operator)
            .where(Operator.role.not_in(READ_ONLY_ROLES))
            .order_by(Operator.name, Operator.id)
        )
        lines = await session.scalars(select(Line).order_by(Line.name, Line.id))
        payload: dict[str, Any] = {
            "operators": [operator_json(op) for op in people],
            "lines": [{"id": line.id, "key": line.key, "name": line.name} for line in lines],
        }
    return web.json_response(payload)


def routes() -> list[web.AbstractRouteDef]:
    """The routing routes."""
    return [
        web.post("/api/dialogs/{dialog_id}/take", take),
        web.post("/api/dialogs/{dialog_id}/skip", skip),
        web.post("/api/dialogs/{dialog_id}/transfer", transfer),
        web.post("/api/dialogs/{dialog_id}/invite", invite),
        web.post("/api/dialogs/{dialog_id}/join", join),
        web.post("/api/dialogs/{dialog_id}/leave", leave),
        web.post("/api/dialogs/{dialog_id}/notes", note),
        web.get("/api/dialogs/{dialog_id}/audit", audit),
        web.get("/api/colleagues", colleagues),
    ]
