"""A client's dialogs from every channel, for the client panel, and a read-only view of one.

``GET /api/crm/clients/{client_id}/dialogs`` lists them newest first;
``GET /api/crm/clients/{client_id}/dialogs/{dialog_id}`` gives one with its messages. Both are
scoped like the client card: whoever may see the client (``may_see_client``) may read its
history, whichever operator answered it; anyone else gets 404. Nothing here writes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.app_keys import SESSIONS
from core.db.schema import Channel, Dialog, Line, Message, Operator
from core.views import message_view
from operator_console.auth import http_error
from operator_console.bodies import path_id
from operator_console.crm_api import check_visible_client

HISTORY_LIMIT = 100
"""Dialogs listed at most; a client with more sees the newest ones."""
MESSAGE_LIMIT = 500
"""Messages of one earlier dialog shown at most: the newest ones, oldest first."""


def _int(request: web.Request, name: str) -> int:
    return path_id(request, name)


def _history_query(client_id: int) -> Any:
    count = (
        select(func.count(Message.id))
        .where(Message.dialog_id == Dialog.id)
        .correlate(Dialog)
        .scalar_subquery()
    )
    return (
        select(Dialog, Line.name, Channel.kind, Channel.name, Operator.name, count)
        .join(Line, Line.id == Dialog.line_id)
        .join(Channel, Channel.id == Dialog.channel_id)
        .outerjoin(Operator, Operator.id == Dialog.operator_id)
        .where(Dialog.client_id == client_id)
    )


def _summary(row: Any) -> dict[str, Any]:
    dialog, line_name, kind, channel_name, operator_name, messages = row
    return {
        "id": dialog.id,
        "line_name": line_name,
        "channel_kind": kind,
        "channel_name": channel_name,
        "operator_name": operator_name or "",
        "status": dialog.status,
        "opened_at": dialog.opened_at.isoformat(),
        "closed_at": dialog.closed_at.isoformat() if dialog.closed_at else None,
        "messages": int(messages or 0),
    }


async def _client(request: web.Request, session: AsyncSession) -> int:
    client_id = _int(request, "client_id")
    await check_visible_client(request, session, client_id)
    return client_id


async def client_dialogs(request: web.Request) -> web.Response:
    """GET /api/crm/clients/{client_id}/dialogs: every dialog of the client, newest first."""
    async with request.app[SESSIONS]() as session:
        client_id = await _client(request, session)
        query = _history_query(client_id).order_by(Dialog.opened_at.desc(), Dialog.id.desc())
        rows = (await session.execute(query.limit(HISTORY_LIMIT))).all()
    return web.json_response({"client_id": client_id, "dialogs": [_summary(r) for r in rows]})


async def client_dialog(request: web.Request) -> web.Response:
    """GET /api/crm/clients/{client_id}/dialogs/{dialog_id}: one dialog and its messages."""
    dialog_id = _int(request, "dialog_id")
    async with request.app[SESSIONS]() as session:
        client_id = await _client(request, session)
        row = (
            await session.execute(_history_query(client_id).where(Dialog.id == dialog_id))
        ).first()
        if row is None:
            raise http_error(web.HTTPNotFound, "no such dialog")
        newest = await session.scalars(
            select(Message)
            .where(Message.dialog_id == dialog_id)
            .order_by(Message.id.desc())
            .limit(MESSAGE_LIMIT)
        )
        messages = [message_view(m).model_dump(mode="json") for m in reversed(list(newest))]
    return web.json_response({"dialog": _summary(row), "messages": messages})


def routes() -> list[web.AbstractRouteDef]:
    """The client history routes."""
    return [
        web.get("/api/crm/clients/{client_id}/dialogs", client_dialogs),
        web.get("/api/crm/clients/{client_id}/dialogs/{dialog_id}", client_dialog),
    ]
