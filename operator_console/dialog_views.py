"""Dialogs as the console shows them, read from the database: the REST lists and the replay of
what a reconnecting operator socket missed build them the same way."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.schema import Channel, Client, Dialog, Line, Message
from core.envelope import DialogView
from core.views import dialog_view, message_view
from operator_console.dialog_reads import NEWEST_READ, DialogWithMessages, newest_page
from operator_console.routing_views import routing_extras

DialogQuery = Select[Dialog, Line, Channel, Client]
"""A query of dialogs with what their view needs; narrowed with ``where`` by the caller."""


def dialog_query() -> DialogQuery:
    """Every dialog with its line, channel and client."""
    return (
        select(Dialog, Line, Channel, Client)
        .join(Line, Line.id == Dialog.line_id)
        .join(Channel, Channel.id == Dialog.channel_id)
        .join(Client, Client.id == Dialog.client_id)
    )


async def dialog_views(session: AsyncSession, query: DialogQuery) -> list[DialogView]:
    """The views of the dialogs ``query`` finds, each with its preview, offers and colleagues."""
    rows = (await session.execute(query)).all()
    ids = [d.id for d, *_ in rows]
    # The preview is the conversation, not the line's automatic greeting or notices.
    last_ids = (
        select(func.max(Message.id))
        .where(Message.dialog_id.in_(ids), Message.author != "system")
        .group_by(Message.dialog_id)
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


async def dialog_with_messages(
    session: AsyncSession, query: DialogQuery
) -> DialogWithMessages | None:
    """The first dialog ``query`` finds, with its newest messages; None when it finds none."""
    views = await dialog_views(session, query)
    if not views:
        return None
    newest = await session.scalars(
        select(Message)
        .where(Message.dialog_id == views[0].id)
        .order_by(Message.id.desc())
        .limit(NEWEST_READ)
    )
    messages, earlier = newest_page(list(newest))
    return DialogWithMessages(views[0], [message_view(m) for m in messages], earlier)
