"""The email connector's database work: folder positions, threading lookups, reply context.

Each function opens and commits its own short session: the IMAP loop and the sender run
outside any request, and a folder position must be durable before the next UID is read.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.email.parse import ParsedMail
from connectors.email.render import ReplyContext, message_ids_of_ours
from core.db import SessionMaker
from core.db.email_schema import EmailMail, EmailMailboxState
from core.db.schema import Client, ClientIdentity, Dialog, Message
from core.envelope import OutboundMessage, utcnow


async def load_state(
    sessions: SessionMaker, channel_id: int, mailbox: str
) -> tuple[int, int] | None:
    """(UIDVALIDITY, last UID) of a folder, or None before its first sync."""
    async with sessions() as session:
        row = await session.get(EmailMailboxState, (channel_id, mailbox))
        return (row.uidvalidity, row.last_uid) if row is not None else None


async def do_save_state(
    sessions: SessionMaker, channel_id: int, mailbox: str, uidvalidity: int, last_uid: int
) -> None:
    """Record how far a folder has been read."""
    async with sessions() as session, session.begin():
        row = await session.get(EmailMailboxState, (channel_id, mailbox))
        if row is None:
            session.add(
                EmailMailboxState(
                    channel_id=channel_id, mailbox=mailbox, uidvalidity=uidvalidity,
                    last_uid=last_uid, updated_at=utcnow(),
                )
            )  # fmt: skip
        else:
            row.uidvalidity, row.last_uid, row.updated_at = uidvalidity, last_uid, utcnow()


async def is_known(sessions: SessionMaker, channel_id: int, external_id: str) -> bool:
    """True when a message with this Message-ID is stored on the channel (ours or theirs)."""
    async with sessions() as session:
        found = await session.scalar(
            select(Message.id).where(
                Message.channel_id == channel_id, Message.external_id == external_id
            )
        )
        return found is not None


async def our_messages(sessions: SessionMaker, channel_id: int, ids: Sequence[str]) -> list[int]:
    """Our own (operator or system) messages sent with any of these Message-IDs: by the id
    the router stored, or by the message id our own Message-IDs carry."""
    if not ids:
        return []
    carried = message_ids_of_ours(channel_id, ids)
    async with sessions() as session:
        rows = await session.scalars(
            select(Message.id).where(
                Message.channel_id == channel_id,
                or_(Message.external_id.in_(list(ids)), Message.id.in_(carried)),
                Message.author != "client",
            )
        )
        return list(rows)


async def find_thread(sessions: SessionMaker, channel_id: int, mail: ParsedMail) -> int | None:
    """The dialog a mail answers: by In-Reply-To/References, else by the subject's tag."""
    ids = mail.thread_ids()
    async with sessions() as session:
        if ids:
            rows = (
                await session.execute(
                    select(Message.external_id, Message.dialog_id).where(
                        Message.channel_id == channel_id, Message.external_id.in_(list(ids))
                    )
                )
            ).all()
            by_id = {ext: dialog for ext, dialog in rows}
            for mid in ids:  # nearest ancestor first
                if mid in by_id:
                    return by_id[mid]
        tagged = mail.subject_dialog()
        if tagged is not None:
            dialog = await session.get(Dialog, tagged)
            if dialog is not None and dialog.channel_id == channel_id:
                return dialog.id
        return await _answered_by_mail(session, ids, tagged, mail.sender)


async def _answered_by_mail(
    session: AsyncSession, ids: Sequence[str], tagged: int | None, sender: str
) -> int | None:
    """A dialog of another channel whose answers were mailed to ``sender`` (a web chat visitor
    who left their email): the one the mail's References or subject tag name."""
    named = (
        set(
            await session.scalars(
                select(Message.dialog_id).where(
                    Message.external_id.in_(list(ids)), Message.author != "client"
                )
            )
        )
        if ids
        else set()
    )
    if tagged is not None:
        named.add(tagged)
    if not named:
        return None
    found = await session.scalar(
        select(Dialog.id)
        .join(Client, Client.id == Dialog.client_id)
        .where(Dialog.id.in_(named), func.lower(Client.email) == sender.lower())
        .order_by(Dialog.id.desc())
        .limit(1)
    )
    return found


async def do_remember_inbound(
    sessions: SessionMaker, channel_id: int, external_id: str, mail: ParsedMail
) -> None:
    """Keep a client mail's subject and References for the reply that will continue it."""
    async with sessions() as session, session.begin():
        exists = await session.scalar(
            select(EmailMail.id).where(
                EmailMail.channel_id == channel_id, EmailMail.rfc_message_id == external_id
            )
        )
        if exists is None:
            session.add(
                EmailMail(
                    channel_id=channel_id, rfc_message_id=external_id, direction="in",
                    subject=mail.subject[:2000], references=" ".join(mail.references)[:8000],
                    status="seen", automatic=mail.automatic, created_at=utcnow(),
                )
            )  # fmt: skip


async def reply_context(sessions: SessionMaker, out: OutboundMessage) -> ReplyContext | None:
    """What a reply in this dialog continues; None when the dialog is gone."""
    async with sessions() as session:
        dialog = await session.get(Dialog, out.dialog_id)
        if dialog is None:
            return None
        identity = await session.get(ClientIdentity, dialog.identity_id)
        # Every id of the client's identity on this channel, oldest first: earlier dialogs
        # with the same person are part of the same mail thread in their program.
        rows = (
            await session.execute(
                select(Message.external_id, Message.author)
                .join(Dialog, Dialog.id == Message.dialog_id)
                .where(
                    Dialog.identity_id == dialog.identity_id,
                    Message.channel_id == out.channel_id,
                    Message.external_id.is_not(None),
                    Message.id != out.message_id,
                )
                .order_by(Message.id)
            )
        ).all()
        client_ids = [ext for ext, author in rows if author == "client" and ext]
        last_in = client_ids[-1] if client_ids else None
        subject, chain, automatic = "", "", False
        if last_in is not None:
            row = await session.scalar(
                select(EmailMail).where(
                    EmailMail.channel_id == out.channel_id, EmailMail.rfc_message_id == last_in
                )
            )
            if row is not None:
                subject, chain, automatic = row.subject, row.references, row.automatic
    return ReplyContext(
        dialog_id=dialog.id,
        line_id=dialog.line_id,
        to_address=out.external_user_id,
        to_name=identity.display_name if identity is not None else "",
        subject=subject,
        in_reply_to=last_in if last_in and not last_in.endswith(".@openlines>") else None,
        references=(chain, *(ext for ext, _a in rows if ext and not ext.endswith(".@openlines>"))),
        answers_automatic=automatic,
    )
