"""What a visitor's widget shows on ``welcome``: the messages of their dialogs from the database.

A page that loads anew gets the newest ones; a widget that reconnects sends ``after`` (the id of
the newest message it has) and gets only those stored after it, so whatever was pushed while it
was away, or while Redis was, is shown once Redis or the network is back.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.lines import LineSettings
from connectors.filelinks import FileLinks
from connectors.webchat.render import history_frame
from core.db.schema import ClientIdentity, Dialog, Line, Message

HISTORY_LIMIT = 200


async def missed_messages(
    session: AsyncSession,
    links: FileLinks,
    channel_id: int,
    visitor_id: str,
    after: int | None,
) -> list[dict[str, Any]]:
    """The visitor's messages (hidden notes left out) after ``after``, oldest first; the
    newest ``HISTORY_LIMIT`` of them."""
    identity = await session.scalar(
        select(ClientIdentity.id).where(
            ClientIdentity.channel_id == channel_id, ClientIdentity.external_id == visitor_id
        )
    )
    if identity is None:
        return []
    query = (
        select(Message)
        .join(Dialog, Dialog.id == Message.dialog_id)
        .where(Dialog.identity_id == identity, Message.hidden.is_(False))
        .order_by(Message.id.desc())
        .limit(HISTORY_LIMIT)
    )
    if after is not None:
        query = query.where(Message.id > after)
    rows = list(await session.scalars(query))
    return [history_frame(m, links) for m in reversed(rows)]


async def pending_rating(
    session: AsyncSession, channel_id: int, visitor_id: str
) -> dict[str, Any] | None:
    """The rating the visitor was asked for and has not given yet, as ``{"dialog_id",
    "rating"}``: the widget shows its prompt again after a reload until it is answered. Only
    the visitor's newest dialog counts; a new conversation drops the old request."""
    dialog = await session.scalar(
        select(Dialog)
        .join(ClientIdentity, ClientIdentity.id == Dialog.identity_id)
        .where(ClientIdentity.channel_id == channel_id, ClientIdentity.external_id == visitor_id)
        .order_by(Dialog.id.desc())
        .limit(1)
    )
    if dialog is None or dialog.status != "closed" or dialog.rating is not None:
        return None
    if dialog.rating_requested_at is None:
        return None
    line = await session.get(Line, dialog.line_id)
    try:
        kind = LineSettings.model_validate((line and line.settings) or {}).rating
    except ValidationError:
        return None
    return None if kind == "none" else {"dialog_id": dialog.id, "rating": kind}
