"""A closed conversation mailed to the visitor who asks for it ("send me the transcript").

The visitor names the address in the widget (it is pre-filled with one they gave before); the
hub sends the dialog's visible messages as plain text through the line's mailbox or the hub's
SMTP (``connectors.email.hub_smtp``), with the dialog's files attached up to the hub's size cap
and the others named with a link (``connectors.email.mail_files``). Plain text only: what a
client wrote can never become markup in the visitor's mail program.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formataddr

import aiosmtplib
from pydantic import ValidationError
from redis.asyncio import Redis
from sqlalchemy import select

from config.settings import Settings
from connectors.email.hub_smtp import hub_smtp
from connectors.email.mail_files import FilesOfMail, MailFiles, attach
from connectors.email.smtp import SmtpServer
from core.db import SessionMaker
from core.db.schema import ClientIdentity, Dialog, Line, Message
from core.envelope import Attachment

log = logging.getLogger(__name__)

MAX_PER_DIALOG = 3
"""Transcripts one dialog may send: enough to fix a mistyped address, too few to spam with."""
COUNT_SECONDS = 86400


async def do_send_transcript(
    sessions: SessionMaker,
    settings: Settings,
    files: MailFiles,
    redis: Redis,
    visitor: tuple[int, str],
    dialog_id: int,
    to: str,
) -> str | None:
    """Mail the visitor's closed dialog ``dialog_id`` to ``to``; why not, or None when sent.

    ``visitor``: (channel id, visitor id) of the socket that asks: only its own dialogs."""
    channel_id, visitor_id = visitor
    async with sessions() as session:
        dialog = await session.scalar(
            select(Dialog)
            .join(ClientIdentity, ClientIdentity.id == Dialog.identity_id)
            .where(
                Dialog.id == dialog_id,
                ClientIdentity.channel_id == channel_id,
                ClientIdentity.external_id == visitor_id,
            )
        )
        if dialog is None:
            return "dialog_id: not a dialog of yours"
        if dialog.status != "closed":
            return "dialog_id: the conversation is not closed yet"
        line = await session.get(Line, dialog.line_id)
        messages = list(await session.scalars(
            select(Message).where(Message.dialog_id == dialog_id, Message.hidden.is_(False))
            .order_by(Message.id)
        ))  # fmt: skip
        smtp = await hub_smtp(session, settings, dialog.line_id)
    if smtp is None:
        return "transcripts cannot be mailed from this chat"
    key = f"webchat:transcripts:{dialog_id}"
    count = await redis.incr(key)
    await redis.expire(key, COUNT_SECONDS)
    if count > MAX_PER_DIALOG:
        return "the transcript of this conversation was sent too often"
    attachments = [a for m in messages for a in files_of(m)]
    found = await files.collect(attachments)
    mail = transcript_mail(smtp, to, line.name if line else "", messages, found)
    try:
        await smtp.submit(mail)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.warning("dialog %d: the transcript could not be mailed: %s", dialog_id, exc)
        return "the transcript could not be sent; please try again later"
    return None


def transcript_mail(
    smtp: SmtpServer,
    to: str,
    line_name: str,
    messages: list[Message],
    files: FilesOfMail | None = None,
) -> EmailMessage:
    """The transcript as a plain-text mail, one paragraph per message, each file named under
    its message; ``files`` are attached after the text."""
    files = files or FilesOfMail()
    mail = EmailMessage()
    mail["From"] = formataddr((smtp.from_name or line_name, smtp.from_address))
    mail["To"] = to
    mail["Subject"] = f"Your conversation with {line_name or 'us'}"
    lines = []
    for m in messages:
        who = "You" if m.author == "client" else (m.author_name or line_name or "Us")
        named = "".join(f"\n{files.line_of(a)}" for a in files_of(m))
        lines.append(f"{who}, {m.created_at:%Y-%m-%d %H:%M} UTC:\n{m.text}{named}")
    mail.set_content("\n\n".join(lines) + "\n")
    attach(mail, files.attached)
    return mail


def files_of(message: Message) -> list[Attachment]:
    """The attachments stored with ``message``; a row that is no attachment is skipped."""
    found = []
    for stored in message.attachments:
        try:
            found.append(Attachment.model_validate(stored))
        except ValidationError:
            log.warning("message %d: an attachment that does not validate", message.id)
    return found
