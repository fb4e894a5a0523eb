"""Pure rendering of an operator's reply into an RFC 5322 message that threads.

``In-Reply-To`` names the client's latest mail and ``References`` continues its chain and adds
every id of the dialog we know, so mail programs put the reply in the client's thread; the
subject carries the ``[#D123]`` tag, the fallback when a client's program drops the headers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from connectors.email.config import EmailAccount, fill
from connectors.email.parse import SUBJECT_TAG, MailFile, message_ids

MAX_REFERENCES = 20
_RE_PREFIX = re.compile(r"^\s*((re|fwd?|aw|ответ|отв)\s*(\[\d+\])?\s*:\s*)+", re.I)


@dataclass(frozen=True)
class ReplyContext:
    """What the reply continues: the dialog, the client's last mail and its chain."""

    dialog_id: int
    line_id: int
    to_address: str
    to_name: str
    subject: str
    """The subject of the client's mail ("" if the dialog has none)."""
    in_reply_to: str | None
    references: tuple[str, ...]
    answers_automatic: bool = False
    """The client's last mail was sent by their software (``ParsedMail.automatic``)."""


def our_message_id(message_id: int, channel_id: int, created: datetime, domain: str) -> str:
    """A stable Message-ID for one of our messages: a retried send reuses it, so a receiver
    that got the first attempt sees the same message again, not a second one."""
    return f"<openlines.{channel_id}.{message_id}.{int(created.timestamp())}@{domain}>"


_OUR_ID = re.compile(r"<openlines\.(\d{1,9})\.(\d{1,9})\.\d+@[^>]*>")


def message_ids_of_ours(channel_id: int, ids: Sequence[str]) -> list[int]:
    """The message ids that ``our_message_id`` put into these Message-IDs for this channel.

    A bounce can come back before the router has stored the Message-ID of the send it is
    about (the mail server refuses within milliseconds), so the id itself must be enough."""
    found = []
    for candidate in ids:
        match = _OUR_ID.fullmatch(candidate.strip())
        if match is not None and int(match.group(1)) == channel_id:
            found.append(int(match.group(2)))
    return found


def reply_subject(template: str, subject: str, dialog_id: int) -> str:
    """The reply's subject: one ``Re:``, the original words, one dialog tag."""
    bare = SUBJECT_TAG.sub("", _RE_PREFIX.sub("", subject)).strip() or f"Dialog {dialog_id}"
    return " ".join(fill(template, subject=bare, dialog_id=str(dialog_id)).split())


def render_reply(
    account: EmailAccount,
    ctx: ReplyContext,
    text: str,
    operator: str,
    message_id: str,
    at: datetime,
    files: Sequence[MailFile] = (),
    *,
    automatic: bool = False,
) -> EmailMessage:
    """The mail for one operator reply, with the operator's files as MIME attachments; an
    ``automatic`` one (the line's greeting, its other auto-replies) is marked as such."""
    style = account.style(ctx.line_id)
    body = fill(
        style.reply_template,
        text=text,
        signature=style.signature,
        operator=operator,
        subject=ctx.subject,
        dialog_id=str(ctx.dialog_id),
    )
    if not style.signature:
        body = body.rstrip().removesuffix("--").rstrip()
    msg = EmailMessage()
    msg["From"] = formataddr((account.from_name, account.from_address))
    msg["To"] = formataddr((ctx.to_name, ctx.to_address))
    msg["Subject"] = reply_subject(style.subject_template, ctx.subject, ctx.dialog_id)
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = message_id
    if ctx.in_reply_to:
        msg["In-Reply-To"] = ctx.in_reply_to
    refs = list(dict.fromkeys(i for r in ctx.references for i in message_ids(r)))
    if ctx.in_reply_to and ctx.in_reply_to not in refs:
        refs.append(ctx.in_reply_to)
    if refs:
        # Keep the thread's root and the newest ids: RFC 5322 allows trimming the middle.
        if len(refs) > MAX_REFERENCES:
            refs = refs[:1] + refs[-(MAX_REFERENCES - 1) :]
        msg["References"] = " ".join(refs)
    if automatic:
        # RFC 3834, so the client's out-of-office does not answer it; the second header is
        # the one Exchange and Outlook read for the same.
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    else:
        msg["Auto-Submitted"] = "no"
    msg["X-Openlines-Dialog"] = str(ctx.dialog_id)
    msg.set_content(body.strip() + "\n")
    for file in files:
        maintype, _, subtype = file.mime.partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.name)
    return msg
