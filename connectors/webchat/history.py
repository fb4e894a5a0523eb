"""What a visitor's widget shows on ``welcome``: the messages of their dialogs from the database.

A page that loads anew gets the newest ones; a widget that reconnects sends ``after`` (the id of
the newest message it has) and gets only those stored after it, so whatever was pushed while it
was away, or while Redis was, is shown once Redis or the network is back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.filelinks import FileLinks
from connectors.webchat.render import history_frame
from core.db.schema import ClientIdentity, Dialog, Message

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
