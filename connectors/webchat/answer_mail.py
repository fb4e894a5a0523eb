"""An operator's answer to a visitor who left the page: it goes to the email they left.

The visitor who filled in the offline form (or any form with an email) and is no longer
connected gets the answer by mail, with the operator's files attached
(``connectors.email.mail_files``), through the line's own mailbox or the hub's SMTP
(``connectors.email.hub_smtp``). The mail's Message-ID is the one the email connector gives its
own replies, and its subject carries the dialog tag, so the visitor's reply threads back into
the same dialog (``connectors.email.store.find_thread``).
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib
from redis.asyncio.client import Pipeline
from sqlalchemy import select

from config.settings import Settings
from connectors.context import ConnectorContext
from connectors.email.hub_smtp import hub_smtp
from connectors.email.mail_files import FilesOfMail, MailFiles, attach, mail_files_of
from connectors.email.render import our_message_id
from connectors.email.smtp import SmtpServer
from connectors.outbound import report_outcome
from connectors.webchat.presence import VisitorPresence
from core.db import SessionMaker
from core.db.schema import Client, Dialog, Line, Message
from core.envelope import OutboundMessage

log = logging.getLogger(__name__)


async def do_mail_answer(
    sessions: SessionMaker, settings: Settings, files: MailFiles, answer: OutboundMessage
) -> str | None:
    """Mail an operator's answer, with its files, to the visitor's email; its Message-ID, or
    None when the visitor left no email or the hub has no SMTP server."""
    async with sessions() as session:
        dialog = await session.get(Dialog, answer.dialog_id)
        if dialog is None:
            return None
        client = await session.get(Client, dialog.client_id)
        if client is None or not client.email:
            return None
        line = await session.get(Line, dialog.line_id)
        smtp = await hub_smtp(session, settings, dialog.line_id)
        earlier = list(await session.scalars(
            select(Message.external_id).where(
                Message.dialog_id == dialog.id, Message.author == "operator",
                Message.id != answer.message_id, Message.external_id.is_not(None),
            ).order_by(Message.id)
        ))  # fmt: skip
    if smtp is None:
        log.warning("dialog %d: no SMTP server to mail the answer to its visitor", dialog.id)
        return None
    domain = smtp.from_address.rsplit("@", 1)[-1]
    mid = our_message_id(answer.message_id, answer.channel_id, answer.at, domain)
    mail = answer_mail(smtp, client.email, line.name if line else "", answer, mid,
                       [e for e in earlier if e and e.startswith("<openlines.")],
                       await files.collect(answer.attachments))  # fmt: skip
    try:
        await smtp.submit(mail)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.warning("dialog %d: the answer could not be mailed: %s", dialog.id, exc)
        return None
    return mid


def answer_mail(
    smtp: SmtpServer,
    to: str,
    line_name: str,
    answer: OutboundMessage,
    message_id: str,
    earlier: list[str],
    files: FilesOfMail | None = None,
) -> EmailMessage:
    """The mail of one answer: plain text, threaded after the earlier answers' mails, with
    the answer's files attached (and those left out named with their links)."""
    mail = EmailMessage()
    mail["From"] = formataddr((smtp.from_name or line_name, smtp.from_address))
    mail["To"] = to
    mail["Subject"] = f"Re: {line_name or 'Your message'} [#D{answer.dialog_id}]"
    mail["Message-ID"] = message_id
    mail["Date"] = format_datetime(answer.at)
    if earlier:
        mail["In-Reply-To"] = earlier[-1]
        mail["References"] = " ".join(earlier[-20:])
    author = f"{answer.author_name}:\n\n" if answer.author_name else ""
    files = files or FilesOfMail()
    left_out = "".join(f"\n{line}" for line in files.left_out.values())
    mail.set_content(f"{author}{answer.text}\n{left_out}".rstrip() + "\n")
    attach(mail, files.attached)
    return mail


CLAIM_SECONDS = 86400
"""How long the claim on one answer's mail is kept: far longer than one process's tail can
fall behind another's (a Redis outage, a stalled process). Each claim is a key of about 150
bytes, so Redis holds a day of a hub's answers (13 MB at one answer a second), not a week."""


def _claim_key(answer: OutboundMessage) -> str:
    return f"webchat:answer:{answer.message_id}"


class AnswerMailer:
    """Mails the operators' answers that reached no open widget, once across hub processes.

    Every process tails the same answers. A process that pushed an answer live claims it in
    Redis as shown. One that holds no socket of the visitor leaves the answer to the process
    that does (``VisitorPresence``), which mails it itself if the socket closed before the
    push; with the visitor on no process, the first to claim the answer for the mail sends it.
    So a visitor still on the page never gets it twice, and one who left always gets the mail.
    The mails go out in background tasks: an SMTP server's slowness must not hold up live
    delivery to other visitors."""

    def __init__(self, context: ConnectorContext, presence: VisitorPresence) -> None:
        self.context = context
        self.presence = presence
        self.tasks: set[asyncio.Task[None]] = set()

    def claim_shown(self, pipe: Pipeline, answer: OutboundMessage) -> None:
        """Add to ``pipe`` the claim of an answer this process pushed live: none mails it."""
        pipe.set(_claim_key(answer), "shown", nx=True, ex=CLAIM_SECONDS)

    async def after_push(self, answer: OutboundMessage, reached: bool) -> None:
        """Claim the answer; mail it when this process claimed it for the mail."""
        if answer.author != "operator":
            return
        visitor = (answer.channel_id, answer.external_user_id)
        if not reached and await self.presence.present_elsewhere(visitor):
            return  # the process holding the visitor's socket decides
        claimed = await self.context.bus.redis.set(
            _claim_key(answer), "shown" if reached else "mail", nx=True, ex=CLAIM_SECONDS
        )
        if claimed and not reached:
            task = asyncio.create_task(self._mail(answer))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _mail(self, answer: OutboundMessage) -> None:
        files = mail_files_of(self.context)
        mid = await do_mail_answer(self.context.sessions, self.context.settings, files, answer)
        if mid is not None:
            # The Message-ID is kept on the message: the next answer's References name it.
            await report_outcome(self.context.bus, answer.message_id, "sent", external_id=mid)

    async def close(self) -> None:
        """Let the mails on their way finish (each is bounded by the SMTP timeout)."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
