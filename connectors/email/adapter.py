"""The email channel: one IMAP watcher per mailbox folder in, SMTP replies out.

Accounts are the enabled ``email`` channels; they are reloaded on every ``channels.changed``
notice (and every 30 s), and a watcher whose settings changed is restarted, so a mailbox can be
added, changed or disabled while the hub runs. Replies go through the shared durable sender
(``connectors.outbound``): the queue lives in Redis, a send is recorded before it is acked,
a 4xx is retried and a 5xx is shown to the operator.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from functools import partial

from aiohttp import web

from connectors.accounts import ChannelAccount
from connectors.context import AccountConnector, ConnectorContext
from connectors.email import store
from connectors.email.config import EmailAccount, load_account
from connectors.email.imap import watch_folder
from connectors.email.parse import (
    MailFile,
    MailParseError,
    ParsedMail,
    normalise_address,
    parse_mail,
)
from connectors.email.render import our_message_id, render_reply
from connectors.email.smtp import send_mail
from connectors.outbound import OutboundSender, SendError, Sent, report_outcome
from connectors.workers import Job, KindWorkers
from core import streams
from core.bus import Bus
from core.cancelling import cancel_and_wait
from core.envelope import (
    MAX_TEXT,
    Attachment,
    ClientHints,
    DialogClosedNotice,
    InboundMessage,
    OutboundMessage,
)

log = logging.getLogger(__name__)

WatchKey = tuple[int, str]


class EmailConnector(AccountConnector):
    """Mailboxes as channels."""

    kind = "email"
    idempotent_sends = False
    """A resent mail is a second mail in the client's inbox: never resend when unsure."""

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self._watchers: dict[WatchKey, tuple[EmailAccount, asyncio.Task[None]]] = {}
        self.workers = KindWorkers(self.kind, self._consumers)
        self.consumer_name = streams.consumer_name(self.kind)
        """One name for the process's life: a restarted sender reads its own pending first."""

    def routes(self) -> list[web.AbstractRouteDef]:
        """Email has no webhooks."""
        return []

    async def run(self) -> None:
        """Watch accounts and read mailboxes, and while the kind has an account send replies
        (``connectors.workers``), until the bus stops."""
        try:
            await self.accounts.watch(self.bus, self.sessions, self._sync)
        finally:
            await self.workers.stop()
            await self._stop(list(self._watchers))

    def _consumers(self, bus: Bus) -> list[Job]:
        return [OutboundSender(self, bus, self.sessions, self.consumer_name).run]

    async def close(self) -> None:
        """Stop every mailbox watcher."""
        await self._stop(list(self._watchers))

    async def _sync(self) -> None:
        """Start, restart or stop watchers to match the enabled accounts."""
        # A disabled mailbox's pending replies are still marked failed by the sender.
        await self.workers.want(self.bus, bool(self.accounts.by_id or self.accounts.disabled))
        wanted: dict[WatchKey, tuple[ChannelAccount, EmailAccount]] = {}
        for account in self.accounts.by_id.values():
            settings = load_account(dict(account.config))
            if isinstance(settings, str):
                log.error("email channel %d is misconfigured: %s", account.id, settings)
                continue
            for mailbox in settings.mailboxes:
                wanted[(account.id, mailbox)] = (account, settings)
        stale = [k for k, (s, _t) in self._watchers.items() if k not in wanted or wanted[k][1] != s]
        await self._stop(stale)
        for key, (account, settings) in wanted.items():
            if key in self._watchers:
                continue
            channel_id, mailbox = key
            job = watch_folder(
                settings,
                mailbox,
                partial(store.load_state, self.sessions, channel_id, mailbox),
                partial(store.do_save_state, self.sessions, channel_id, mailbox),
                partial(self.ingest, account, settings),
                f"email channel {channel_id} {mailbox}",
            )
            self._watchers[key] = (settings, asyncio.create_task(job))

    async def _stop(self, keys: list[WatchKey]) -> None:
        for key in keys:
            entry = self._watchers.pop(key, None)
            if entry is None:
                continue
            await cancel_and_wait(entry[1])

    async def ingest(self, account: ChannelAccount, settings: EmailAccount, raw: bytes) -> None:
        """Turn one fetched message into an inbound envelope, a bounce, or nothing."""
        try:
            mail = parse_mail(raw)
        except MailParseError as exc:
            log.warning("email channel %d: unreadable message skipped: %s", account.id, exc)
            return
        except Exception:
            # Parsing is the same every time: read again, this mail would fail again and hold
            # every later mail of its folder behind it.
            log.exception(
                "email channel %d: a message the parser failed on was skipped (%d bytes, %s)",
                account.id, len(raw), _first_line(raw, b"message-id:") or "no Message-ID",
            )  # fmt: skip
            return
        if mail.bounce is not None:
            await self._bounce(account, mail)
            return
        if mail.sender == normalise_address(settings.from_address):
            return  # our own mail (a Sent copy, a Cc to ourselves): never a client message
        external_id = _external_id(mail.message_id)
        if await store.is_known(self.sessions, account.id, external_id):
            return  # read before (a UIDVALIDITY resync, the same mail in two folders)
        await store.do_remember_inbound(self.sessions, account.id, external_id, mail)
        thread = await store.find_thread(self.sessions, account.id, mail)
        attachments = [await self._store_file(account.id, f.name, f.mime, f.data)
                       for f in mail.attachments]  # fmt: skip
        text = mail.text
        if thread is None and mail.subject:
            text = f"{mail.subject}\n\n{text}".strip()
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        envelope = InboundMessage(
            channel_id=account.id,
            external_user_id=mail.sender,
            external_message_id=external_id,
            text=text,
            attachments=tuple(attachments),
            client_name=(mail.sender_name or mail.sender)[:255],
            hints=ClientHints(name=mail.sender_name[:255], email=mail.sender[:320]),
            thread_dialog_id=thread,
            line_id=settings.route(mail.sender, mail.recipients, mail.subject),
        )
        shard = streams.shard_of(account.id, mail.sender, self.context.settings.inbound_shards)
        await self.bus.publish(streams.inbound(shard), envelope)

    async def _store_file(self, channel_id: int, name: str, mime: str, data: bytes) -> Attachment:
        if mime.startswith("image/"):
            return await self.files.save(channel_id, data, kind="image", name=name, mime=mime)
        return await self.files.save(channel_id, data, kind="file", name=name, mime=mime)

    async def _bounce(self, account: ChannelAccount, mail: ParsedMail) -> None:
        bounce = mail.bounce
        assert bounce is not None
        ours = await store.our_messages(self.sessions, account.id, bounce.original_ids)
        if not ours:
            log.info("email channel %d: a bounce about mail we did not send", account.id)
            return
        reason = f"bounced: {bounce.reason}"
        if bounce.recipient and bounce.recipient not in reason:
            reason += f" ({bounce.recipient})"
        for message_id in ours:
            await report_outcome(self.bus, message_id, "failed", error=reason)

    async def deliver(self, message: OutboundMessage) -> Sent:
        """Send one reply by SMTP (called by the shared sender)."""
        account = self.accounts.by_id.get(message.channel_id)
        if account is None:
            raise SendError("the mailbox channel is disabled or gone")
        settings = load_account(dict(account.config))
        if isinstance(settings, str):
            raise SendError(f"the mailbox channel is misconfigured: {settings}")
        ctx = await store.reply_context(self.sessions, message)
        if ctx is None:
            raise SendError("the dialog no longer exists")
        automatic = message.author == "system"
        if automatic and ctx.answers_automatic:
            # Two automatic senders answering each other never stop (RFC 3834, section 2).
            raise SendError(
                "the client's last mail was sent automatically (an out-of-office, a list), "
                "and an automatic answer to it could start a mail loop"
            )
        domain = settings.from_address.rsplit("@", 1)[-1]
        mid = our_message_id(message.message_id, message.channel_id, message.at, domain)
        files = [await self._mail_file(att) for att in message.attachments]
        mail = render_reply(
            settings, ctx, message.text, message.author_name, mid, message.at, files,
            automatic=automatic,
        )  # fmt: skip
        await send_mail(settings, mail)
        return Sent(external_id=mid)

    async def _mail_file(self, att: Attachment) -> MailFile:
        stored = await self.files.read(att.url)
        if stored is None:
            raise SendError(f"attachment {att.name or 'file'} is no longer stored")
        data, meta = stored
        return MailFile(att.name or meta.name or "file", meta.mime, data)

    async def deliver_closed(self, notice: DialogClosedNotice) -> None:
        """Email says no goodbye: a closed dialog reopens with the client's next mail."""


def _external_id(message_id: str) -> str:
    # The unique key is 255 characters; longer Message-IDs exist in the wild (and in spam).
    if len(message_id) <= 255:
        return message_id
    return f"<{hashlib.sha256(message_id.encode()).hexdigest()}.@openlines>"


def _first_line(raw: bytes, prefix: bytes) -> str:
    """The first header line of ``raw`` that starts with ``prefix`` (any case), for a log."""
    for line in re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0].splitlines():
        if line.lower().startswith(prefix):
            return line.decode("ascii", errors="replace").strip()[:200]
    return ""
