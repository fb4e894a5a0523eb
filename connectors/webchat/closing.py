"""What a visitor does with a closed dialog of theirs: rate it, or have it mailed to them.

Both answer a frame on the visitor's socket and act only on the visitor's own dialogs: a
dialog id alone must not let anyone rate or read any dialog.
"""

from __future__ import annotations

from sqlalchemy import select

from config.settings import Settings
from connectors.email.mail_files import MailFiles
from connectors.webchat.link import VisitorLink
from connectors.webchat.parse import Rate, Transcript
from connectors.webchat.transcript import do_send_transcript
from connectors.webchat.visitor_frames import send_error
from core import frames, streams
from core.bus import Bus
from core.db import SessionMaker
from core.db.schema import ClientIdentity, Dialog
from core.envelope import RateDialog


async def do_rate(
    ws: VisitorLink,
    sessions: SessionMaker,
    bus: Bus,
    visitor: tuple[int, str],
    rate: Rate,
) -> None:
    """Pass the visitor's rating of their dialog to the router; ``visitor`` is (channel id,
    visitor id) of the socket."""
    channel_id, visitor_id = visitor
    async with sessions() as session:
        own = await session.scalar(
            select(Dialog.id)
            .join(ClientIdentity, ClientIdentity.id == Dialog.identity_id)
            .where(
                Dialog.id == rate.dialog_id,
                ClientIdentity.channel_id == channel_id,
                ClientIdentity.external_id == visitor_id,
            )
        )
    if own is None:
        await send_error(ws, "bad_frame", "dialog_id: not a dialog of yours")
        return
    # The router keeps the first rating of a closed dialog and ignores the rest.
    rating = RateDialog(dialog_id=rate.dialog_id, rating=rate.value, comment=rate.comment)
    await bus.publish(streams.COMMANDS, rating)
    await ws.send_json(
        {"type": "rated", "dialog_id": rate.dialog_id, "value": rate.value}, dumps=frames.dumps
    )


async def do_transcript(
    ws: VisitorLink,
    sessions: SessionMaker,
    settings: Settings,
    files: MailFiles,
    bus: Bus,
    visitor: tuple[int, str],
    asked: Transcript,
) -> None:
    """Mail the visitor's closed dialog, with its files, to the address they named, and say
    how it went."""
    refused = await do_send_transcript(
        sessions, settings, files, bus.redis, visitor, asked.dialog_id, asked.email
    )
    if refused is not None:
        await send_error(ws, "transcript", refused)
        return
    sent = {"type": "transcript_sent", "dialog_id": asked.dialog_id}
    await ws.send_json(sent, dumps=frames.dumps)
