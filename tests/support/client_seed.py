"""One line with a web chat, one client and the client's identity there: the rows most tests of
dialogs and messages start from; and an open dialog with one client message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionMaker
from core.db.schema import Channel, Client, ClientIdentity, Dialog, Line, Message


@dataclass(frozen=True)
class SeededClient:
    """The ids of what ``seed_client`` stored."""

    line_id: int
    channel_id: int
    client_id: int
    identity_id: int


async def seed_client(sessions: SessionMaker) -> SeededClient:
    """Line ``l``, its web chat ``c``, client Ann and her identity ``u1`` on that chat."""
    async with sessions() as s, s.begin():
        line = Line(key="l", name="L")
        s.add(line)
        await s.flush()
        channel = Channel(line_id=line.id, kind="webchat", key="c", name="C")
        client = Client(name="Ann")
        s.add_all([channel, client])
        await s.flush()
        identity = ClientIdentity(client_id=client.id, channel_id=channel.id, external_id="u1")
        s.add(identity)
        await s.flush()
        return SeededClient(line.id, channel.id, client.id, identity.id)


async def add_open_dialog(
    s: AsyncSession,
    identity: ClientIdentity,
    text: str,
    at: datetime,
    *,
    operator_id: int | None = None,
    author_name: str = "",
) -> Dialog:
    """An open dialog of ``identity`` on line 1, whose one message, the client's ``text``,
    came at ``at``."""
    dialog = Dialog(
        line_id=1,
        channel_id=identity.channel_id,
        client_id=identity.client_id,
        identity_id=identity.id,
        operator_id=operator_id,
        status="open",
        opened_at=at,
        last_message_at=at,
    )
    s.add(dialog)
    await s.flush()
    s.add(
        Message(
            dialog_id=dialog.id,
            channel_id=identity.channel_id,
            author="client",
            author_name=author_name,
            text=text,
            created_at=at,
        )
    )
    return dialog
