"""Reopening a closed dialog from its history: ``POST /api/dialogs/{id}/reopen``.

Like every change to a dialog it goes to the router as a command (``ReopenDialog``); this
endpoint answers at once why the router would refuse it, so the person asking hears it instead
of seeing nothing happen. The router checks the same rules again when the command arrives.
"""

from __future__ import annotations

from aiohttp import web

from core import streams
from core.app_keys import BUS, SESSIONS
from core.db.schema import Dialog
from core.envelope import ReopenDialog
from operator_console.api import error
from operator_console.bodies import path_id
from operator_console.keys import OPERATOR
from router.reopen import active_dialog, may_reopen


async def reopen_dialog(request: web.Request) -> web.Response:
    """POST /api/dialogs/{id}/reopen: 202 once the command is on its way."""
    operator = request[OPERATOR]
    if operator.role not in ("admin", "manager"):
        return error(403, "only admins and the line's managers may reopen a dialog")
    dialog_id = path_id(request, "dialog_id")
    async with request.app[SESSIONS]() as session:
        dialog = await session.get(Dialog, dialog_id)
        if dialog is None:
            return error(404, "no such dialog")
        if not await may_reopen(session, dialog, operator):
            return error(403, "only admins and the line's managers may reopen a dialog")
        if dialog.status != "closed":
            return error(409, "the dialog is not closed")
        active = await active_dialog(session, dialog)
    if active is not None:
        return error(409, f"the client has an active dialog (#{active})")
    await request.app[BUS].publish(
        streams.COMMANDS, ReopenDialog(dialog_id=dialog_id, operator_id=operator.id)
    )
    return web.json_response({"dialog_id": dialog_id}, status=202)


def routes() -> list[web.AbstractRouteDef]:
    """The reopen route."""
    return [web.post("/api/dialogs/{dialog_id}/reopen", reopen_dialog)]
