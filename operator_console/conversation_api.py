"""Reading a dialog around a message, and how many parts a reply will make on its channel.

``GET /api/dialogs/{id}/messages?around=<message id>`` opens a dialog at a search hit;
``before``/``after`` page from there. ``GET /api/dialogs/{id}/parts?length=N`` tells the
console's counter how the dialog's channel will split a reply of N characters.
"""

from __future__ import annotations

import math

from aiohttp import web
from sqlalchemy import select

from connectors.registry import KINDS
from core.app_keys import SESSIONS
from core.db.schema import Message
from core.envelope import MAX_REPLY_TEXT
from core.views import message_view
from operator_console.api import _visible_dialog
from operator_console.auth import http_error
from operator_console.bodies import query_id

PAGE = 50
MAX_PAGE = 200


def max_text(kind: str) -> int | None:
    """The longest text one platform message of ``kind`` holds; None: never split."""
    known = KINDS.get(kind)
    return known.capabilities.max_text if known is not None else None


def parts_for(kind: str, length: int) -> int:
    """How many messages a reply of ``length`` characters makes on a channel of ``kind``, at
    least: a cut falls on whitespace, so text with long words may take one more."""
    limit = max_text(kind)
    if length <= 0:
        return 0
    return 1 if limit is None else math.ceil(length / limit)


def _query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    return query_id(request, name, default)


async def dialog_messages(request: web.Request) -> web.Response:
    """GET /api/dialogs/{id}/messages?around=|before=|after=&limit=, oldest first."""
    limit = _query_int(request, "limit", PAGE) or PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise http_error(web.HTTPBadRequest, f"limit: between 1 and {MAX_PAGE}")
    around, before, after = (_query_int(request, n) for n in ("around", "before", "after"))
    if sum(x is not None for x in (around, before, after)) > 1:
        raise http_error(web.HTTPBadRequest, "around: give one of around, before, after")
    async with request.app[SESSIONS]() as session:
        view = await _visible_dialog(request, session)
        of_dialog = select(Message).where(Message.dialog_id == view.id)
        older_than = around + 1 if around is not None else before
        newer_than = around if around is not None else after
        older: list[Message] = []
        newer: list[Message] = []
        if newer_than is None or around is not None:
            query = of_dialog.order_by(Message.id.desc())
            if older_than is not None:
                query = query.where(Message.id < older_than)
            # Around a message: it and half a page before it, half a page after.
            older = list(await session.scalars(query.limit(limit // 2 + 1 if around else limit)))
        if newer_than is not None:
            query = of_dialog.where(Message.id > newer_than).order_by(Message.id)
            newer = list(await session.scalars(query.limit(limit - len(older) or 1)))
    messages = [*reversed(older), *newer]
    if around is not None and all(m.id != around for m in messages):
        raise http_error(web.HTTPNotFound, "around: no such message in this dialog")
    return web.json_response(
        {
            "dialog_id": view.id,
            "messages": [message_view(m).model_dump(mode="json") for m in messages],
        }
    )


async def reply_parts(request: web.Request) -> web.Response:
    """GET /api/dialogs/{id}/parts?length=N."""
    length = _query_int(request, "length", 0) or 0
    if not 0 <= length <= MAX_REPLY_TEXT:
        raise http_error(web.HTTPBadRequest, f"length: between 0 and {MAX_REPLY_TEXT}")
    async with request.app[SESSIONS]() as session:
        view = await _visible_dialog(request, session)
    return web.json_response(
        {
            "channel_kind": view.channel_kind,
            "max_text": max_text(view.channel_kind),
            "max_reply": MAX_REPLY_TEXT,
            "length": length,
            "parts": parts_for(view.channel_kind, length),
        }
    )


def routes() -> list[web.AbstractRouteDef]:
    """The conversation routes."""
    return [
        web.get("/api/dialogs/{dialog_id}/messages", dialog_messages),
        web.get("/api/dialogs/{dialog_id}/parts", reply_parts),
    ]
