"""The web chat's I/O: the visitor websocket, the widget's pages, and live delivery to visitors.

Inbound: a visitor frame is checked, put on its inbound shard, and acknowledged at once; the
router stores it. Outbound: every hub process tails ``out.webchat`` and pushes to the visitors
connected to it; a visitor who was not connected gets the messages from the database when they
come back (``hello`` with ``after``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError
from sqlalchemy import Select, String, bindparam, select

from connectors.accounts import Accounts
from connectors.attachments import AttachmentStore
from connectors.context import ConnectorContext, ContextConnector
from connectors.email.mail_files import mail_files_of
from connectors.filelinks import FileLinks
from connectors.webchat import identity as site_identity
from connectors.webchat import pages
from connectors.webchat.answer_mail import AnswerMailer
from connectors.webchat.availability import line_answering
from connectors.webchat.closing import do_rate, do_transcript
from connectors.webchat.delivery import VisitorDelivery
from connectors.webchat.history import missed_messages, pending_rating
from connectors.webchat.link import MAX_FRAME_BYTES, VisitorLink
from connectors.webchat.parse import (
    IDENTITY_ERROR,
    FrameError,
    Hello,
    Identify,
    Ping,
    Rate,
    Read,
    Transcript,
    Typing,
    VisitorText,
    parse_frame,
    parse_identity,
)
from connectors.webchat.polling import PollLink, PollLinks
from connectors.webchat.presence import VisitorPresence
from connectors.webchat.rate import RateBudget, VisitorRate
from connectors.webchat.signals import VisitorSignals
from connectors.webchat.token import Visitor, check_token, issue_token
from connectors.webchat.upload_rate import UploadBudget, UploadRate
from connectors.webchat.uploads import limits_of, upload_route
from connectors.webchat.visitor_frames import (
    client_msg_id,
    refuse,
    send_error,
    visitor_message,
)
from core import frames, streams
from core.db.schema import Channel
from core.envelope import (
    ClientHints,
    DialogClosedNotice,
    Outbound,
    OutboundMessage,
    utcnow,
)
from core.logs import CHANNEL_ID
from core.outage import REDIS_CLIENT_DOWN
from core.socket_end import abort_if_unread

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0
"""How often a visitor's socket is pinged; one that has not answered half that later is
closed (aiohttp's heartbeat)."""
RATE_LIMITED = ("rate_limited", "too many messages; wait a few seconds")
UPLOAD_KEPT_S = 24 * 3600.0
"""How long a visitor's upload waits for a message to carry it before it is deleted."""
UPLOAD_SWEEP_S = 3600.0
"""How often such uploads are looked for."""


class WebchatConnector(ContextConnector):
    """The web chat channel: widget socket in, live push out."""

    kind = "webchat"

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.shards = context.settings.inbound_shards
        self.delivery = VisitorDelivery(lambda: self.links)
        """Live pushes to the visitors' sockets open on this process."""
        self.sockets = self.delivery.sockets
        self.signals = VisitorSignals(context, self.delivery)
        """Typing both ways and read receipts."""
        self.enabled = Accounts(self.kind)
        """The enabled chats, reloaded on every change notice: a disabled one loses its sockets."""
        self.last_entry_id: str | None = None
        """The last outbound entry handled: a restarted ``run`` reads on from it."""
        self.files = AttachmentStore(context.data_dir)
        """Where visitors' uploads are kept, beside every channel's files."""
        self.presence = VisitorPresence(lambda: self.bus.redis)
        """Which visitors have a widget open on this process, as the other processes see it."""
        self.answer_mail = AnswerMailer(context, self.presence)
        """Answers to visitors who left the page go to the email they left."""
        self.polls = PollLinks(lambda key: self._channel(key, enabled_only=False),
                               self._serve_poll)  # fmt: skip
        """The widgets of this process that talk over long polls, their sockets refused."""

    async def load_accounts(self) -> None:
        """Read the web chats from the database now (see connectors.base.LoadsAccounts)."""
        await self.enabled.load(self.sessions)

    @functools.cached_property
    def rate(self) -> VisitorRate:
        """The visitors' message budget, shared by every socket and process through Redis."""
        settings = self.context.settings
        budget = RateBudget(
            per_visitor=settings.webchat_max_per_visitor,
            per_address=settings.webchat_max_per_address,
        )
        return VisitorRate(self.bus.redis, budget)

    @functools.cached_property
    def upload_rate(self) -> UploadRate:
        """The visitors' upload budget, shared by every process through Redis."""
        settings = self.context.settings
        budget = UploadBudget(
            files_per_visitor=settings.webchat_upload_files_per_visitor,
            mb_per_address=settings.webchat_upload_mb_per_address,
        )
        return UploadRate(self.bus.redis, budget)

    @property
    def secret(self) -> bytes:
        return self.context.secret

    @property
    def links(self) -> FileLinks:
        """Signs the links through which visitors fetch operators' files (``/files/…``)."""
        ttl = self.context.settings.file_link_hours * 3600
        return FileLinks(self.secret, self.context.settings.effective_public_url, ttl)

    def routes(self) -> list[web.AbstractRouteDef]:
        """The widget's socket, script and pages."""
        return [
            web.get("/widget/ws", self.visitor_socket),
            *self.polls.routes(),
            upload_route(
                lambda: self.secret, lambda: self.files, self._channel, lambda: self.upload_rate
            ),
            *pages.routes(lambda: self.sessions, self._channel),
        ]

    async def run(self) -> None:
        """Push outbound entries to connected visitors until cancelled."""
        watchers = [
            asyncio.create_task(self.enabled.watch(self.bus, self.sessions, self._drop_disabled)),
            asyncio.create_task(self.signals.run()),
            asyncio.create_task(self.presence.run(lambda: list(self.sockets))),
            asyncio.create_task(self.polls.run()),
            asyncio.create_task(self._sweep_uploads()),
        ]
        try:
            stream = streams.outbound(self.kind)
            async for read in self.bus.tail_reads(stream, after=self.last_entry_id):
                shown: list[OutboundMessage] = []
                try:
                    for entry_id, payload in read:
                        if isinstance(
                            payload, OutboundMessage | DialogClosedNotice
                        ) and self.delivery.first_time(payload):
                            await self._push(payload, shown)
                        self.last_entry_id = entry_id
                finally:
                    await self._report_shown(shown)
        finally:
            for watcher in watchers:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watcher

    async def _sweep_uploads(self) -> None:
        """Delete the visitors' uploads that no message carried within ``UPLOAD_KEPT_S``."""
        while True:
            swept = await asyncio.to_thread(self.files.sweep_pending, UPLOAD_KEPT_S)
            if swept:
                log.info("deleted %d visitors' uploads that no message carried", swept)
            await asyncio.sleep(UPLOAD_SWEEP_S)

    async def _drop_disabled(self) -> None:
        """Refuse the open sockets of chats an admin disabled (or deleted) since they opened."""
        suspects = {cid for cid, _v in self.sockets if cid not in self.enabled.by_id}
        if not suspects:
            return
        # The account list may predate a chat created a moment ago: ask the database itself.
        async with self.sessions() as session:
            alive = set(await session.scalars(
                select(Channel.id).where(Channel.id.in_(suspects), Channel.enabled.is_(True))
            ))  # fmt: skip
        for (channel_id, _visitor), group in list(self.sockets.items()):
            if channel_id in suspects and channel_id not in alive:
                for ws in list(group):
                    await refuse(ws)

    async def send(self, outbound: Outbound) -> None:
        """Push one outbound entry to the visitor's open sockets, if any, and report it."""
        shown: list[OutboundMessage] = []
        await self._push(outbound, shown)
        await self._report_shown(shown)

    async def _push(self, outbound: Outbound, shown: list[OutboundMessage]) -> None:
        """Push one outbound entry to the visitor's open sockets, if any. An operator's answer
        that reached an open widget goes on ``shown``, to be reported by the caller
        (``_report_shown``); any other answer is left to the mail here."""
        reached = await self.delivery.push(outbound)
        if not isinstance(outbound, OutboundMessage):
            return
        if outbound.author != "client":
            # Live push on the sockets of this process; the widget's history shows it anyway.
            self.bus.metrics.messages_out.labels(self.kind, "pushed").inc()
        if reached and outbound.author == "operator":
            shown.append(outbound)
        else:
            await self.answer_mail.after_push(outbound, reached)

    async def _report_shown(self, shown: list[OutboundMessage]) -> None:
        """Claim the answers shown in open widgets so that no process mails them, at once (all
        of one read's in one round trip), and report them delivered within a moment."""
        if not shown:
            return

        def claim(pipe: Pipeline) -> None:
            for answer in shown:
                self.answer_mail.claim_shown(pipe, answer)

        await self.signals.delivered([a.message_id for a in shown], claim)

    async def close(self) -> None:
        """Close every visitor socket (they reconnect to another process or after restart)."""
        await self.signals.close()
        await self.answer_mail.close()
        await self.polls.close()
        for group in list(self.sockets.values()):
            for ws in list(group):
                with contextlib.suppress(Exception):
                    await ws.close(code=1001, message=b"server shutting down")

    async def _channel(self, key: str, *, enabled_only: bool = True) -> Channel | None:
        async with self.sessions() as session:
            return await session.scalar(
                _channel_by_key(enabled_only), {"key": key, "kind": self.kind}
            )

    async def visitor_socket(self, request: web.Request) -> web.StreamResponse:
        """One visitor's websocket (docs/PROTOCOL.md)."""
        key = request.query.get("channel", "")
        channel = await self._channel(key, enabled_only=False)
        if channel is None:
            raise web.HTTPNotFound(text=f"channel: no web chat with key {key!r}")
        ws = web.WebSocketResponse(
            heartbeat=HEARTBEAT_S, compress=False, max_msg_size=MAX_FRAME_BYTES
        )
        await ws.prepare(request)
        transport = request.transport
        self.delivery.watch(ws, transport)
        try:
            await self._serve(ws, channel, request.remote or "unknown", _texts(ws))
        finally:
            self.delivery.unwatch(ws)
            abort_if_unread(transport, "a visitor's socket")
        return ws

    async def _serve_poll(self, link: PollLink, channel: Channel, address: str) -> None:
        """One visitor's long-poll link (``connectors.webchat.polling``): a socket's loop."""
        await self._serve(link, channel, address, link.incoming(), kind="visitor_poll")

    async def _serve(
        self,
        link: VisitorLink,
        channel: Channel,
        address: str,
        texts: AsyncIterator[str],
        kind: str = "visitor",
    ) -> None:
        """Handle a visitor link's frames until it closes."""
        if not channel.enabled:
            # Opened only to say why: a browser never sees the body of a refused handshake.
            await refuse(link)
            return
        visitor: Visitor | None = None
        hints: ClientHints | None = None
        """Who the site says this link's visitor is, once its signature checked out."""
        links = self.bus.metrics.websockets.labels(kind)
        links.inc()
        CHANNEL_ID.set(channel.id)  # this task's records name the channel
        try:
            async for data in texts:
                try:
                    visitor, hints = await self._on_frame(
                        link, channel, data, visitor, hints, address
                    )
                except REDIS_CLIENT_DOWN:
                    # Redis is away: the widget sends the frame again (its outbox does), and
                    # the link stays for what the delivery tail pushes once Redis is back.
                    await send_error(link, "unavailable", "the chat is busy; retrying",
                                     client_msg_id(data))  # fmt: skip
                except (RedisError, OSError, ConnectionError):
                    raise
                except Exception:
                    # A bug must cost one frame, not the visitor's link.
                    log.exception("web chat frame failed on channel %s", channel.id)
                    await send_error(link, "server_error", "this frame could not be handled")
        finally:
            links.dec()
            if visitor is not None:
                self.delivery.leave((channel.id, visitor.visitor_id), link)
                if (channel.id, visitor.visitor_id) not in self.sockets:
                    await self.presence.do_leave((channel.id, visitor.visitor_id))

    async def _on_frame(
        self,
        ws: VisitorLink,
        channel: Channel,
        data: str,
        visitor: Visitor | None,
        hints: ClientHints | None,
        address: str,
    ) -> tuple[Visitor | None, ClientHints | None]:
        """Handle one text frame; the socket's visitor and site hints after it."""
        parsed = parse_frame(data)
        if isinstance(parsed, FrameError):
            await send_error(ws, parsed.code, parsed.reason, parsed.client_msg_id)
        elif isinstance(parsed, Hello):
            first = visitor is None
            visitor = await self._hello(ws, channel, parsed, visitor)
            if first and visitor is not None and parsed.identity is not None:
                hints = await self._identify(ws, channel, parsed.identity, hints)
        elif visitor is None:
            await send_error(ws, "not_ready", "send hello first")
        elif isinstance(parsed, VisitorText):
            await self._accept(ws, channel, visitor, parsed, hints, address)
        elif isinstance(parsed, Identify):
            hints = await self._identify(ws, channel, parsed.identity, hints)
        elif isinstance(parsed, Rate):
            await do_rate(ws, self.sessions, self.bus, (channel.id, visitor.visitor_id), parsed)
        elif isinstance(parsed, Transcript):
            await do_transcript(ws, self.sessions, self.context.settings,
                                mail_files_of(self.context), self.bus,
                                (channel.id, visitor.visitor_id), parsed)  # fmt: skip
        elif isinstance(parsed, Ping):
            # The header's status is checked again with every keep-alive, so it follows
            # working hours and operators' presence without a reload.
            async with self.sessions() as session:
                online = await line_answering(session, channel.line_id, utcnow())
            await ws.send_json({"type": "pong", "online": online}, dumps=frames.dumps)
        elif isinstance(parsed, Typing):
            await self.signals.visitor_typing(channel.id, visitor.visitor_id)
        elif isinstance(parsed, Read):
            await self.signals.seen(channel.id, visitor.visitor_id, parsed.up_to)
        return visitor, hints

    async def _hello(
        self, ws: VisitorLink, channel: Channel, hello: Hello, current: Visitor | None
    ) -> Visitor | None:
        if current is not None:
            await send_error(ws, "bad_frame", "hello was already sent")
            return current
        if hello.token:
            visitor = check_token(self.secret, hello.token, channel.id)
            if visitor is None:
                await send_error(ws, "bad_token", "the token is not valid for this chat")
                return None
            token = hello.token
        else:
            token, visitor = issue_token(self.secret, channel.id)
        # Registered before the history is read, so nothing stored meanwhile is missed; what
        # is pushed until the welcome is out follows it (``VisitorDelivery``).
        key = (channel.id, visitor.visitor_id)
        self.delivery.join(key, ws)
        try:
            await self.presence.do_join(key)
            history: list[dict[str, Any]] = []
            rating: dict[str, Any] | None = None
            async with self.sessions() as session:
                online = await line_answering(session, channel.line_id, utcnow())
                if hello.token:
                    # A visitor id issued just now has no identity yet: nothing to read back.
                    history = await missed_messages(
                        session, self.links, channel.id, visitor.visitor_id, hello.after
                    )
                    rating = await pending_rating(session, channel.id, visitor.visitor_id)
            welcome = {
                "type": "welcome",
                "token": token,
                "visitor_id": visitor.visitor_id,
                "history": history,
                "online": online,
            }
            if rating is not None:
                welcome["rating"] = rating
            limits = limits_of(channel)
            if limits.forms:
                welcome["forms"] = list(limits.forms)
            if limits.prechat:
                welcome["prechat"] = True
            if limits.upload_max_mb:
                welcome["uploads"] = {
                    "max_bytes": limits.upload_max_mb * 1024 * 1024,
                    "types": list(limits.upload_types),
                }
            await ws.send_json(welcome, dumps=frames.dumps)
            await self.delivery.welcomed(ws, {m["id"] for m in history})
        except BaseException:
            self.delivery.leave(key, ws)  # no visitor for this socket: nothing else forgets it
            raise
        return visitor

    async def _identify(
        self, ws: VisitorLink, channel: Channel, raw: Any, current: ClientHints | None
    ) -> ClientHints | None:
        """The socket's hints after the site's identity is checked: the new ones when it is
        valid, else ``current`` with a ``bad_identity`` error (the chat goes on without it)."""
        checked = parse_identity(raw)
        if isinstance(checked, FrameError):
            await send_error(ws, checked.code, checked.reason)
            return current
        secret = (channel.config or {}).get("site_secret")
        reason = site_identity.verify(secret if isinstance(secret, str) else None, checked,
                                      time.time())  # fmt: skip
        if reason is None and current is not None and current.site_identity != checked.id:
            # One visitor identity on two site users would make the CRM merge both users'
            # clients into one; a different user must come as a new visitor (no token).
            reason = "this conversation is already identified as another user"
        if reason is not None:
            log.info("web chat %s: identity refused: %s", channel.key, reason)
            await send_error(ws, IDENTITY_ERROR, reason)
            return current
        await ws.send_json({"type": "identified", "id": checked.id}, dumps=frames.dumps)
        return site_identity.hints_of(checked)

    async def _accept(
        self,
        ws: VisitorLink,
        channel: Channel,
        visitor: Visitor,
        text: VisitorText,
        hints: ClientHints | None,
        address: str,
    ) -> None:
        """Count a visitor's message against the budget and queue it: ``accepted``, else
        ``rate_limited`` or why it was refused."""
        envelope = visitor_message(self.secret, channel.id, visitor, text, hints)
        if isinstance(envelope, str):
            # Counted all the same, and over budget that is what the visitor hears first.
            if await self.rate.check_allowed(channel.id, visitor.visitor_id, address):
                await send_error(ws, "bad_frame", envelope, text.client_msg_id)
            else:
                await send_error(ws, *RATE_LIMITED, text.client_msg_id)
            return
        if envelope.attachments:
            gone = await self.files.claim(envelope.attachments)
            if gone:
                reason = f"attachments: {', '.join(gone)} no longer stored; send it again"
                await send_error(ws, "bad_frame", reason, text.client_msg_id)
                return
        shard = streams.shard_of(channel.id, visitor.visitor_id, self.shards)
        try:
            # "accepted" is a promise: once a replica exists, it has the message too.
            queued = await self.rate.queue_if_allowed(
                self.bus, streams.inbound(shard), envelope, address
            )
        except (RedisError, OSError) as exc:
            # Not accepted: the widget keeps the message in its outbox and sends it again.
            log.error("could not queue a visitor message: %s", exc)
            await send_error(ws, "unavailable", "the chat is busy; retrying", text.client_msg_id)
            return
        if not queued:
            await send_error(ws, *RATE_LIMITED, text.client_msg_id)
            return
        await ws.send_json(
            {"type": "accepted", "client_msg_id": text.client_msg_id}, dumps=frames.dumps
        )


async def _texts(ws: web.WebSocketResponse) -> AsyncIterator[str]:
    """A socket's text frames; a binary one is answered with an error."""
    async for frame in ws:
        if frame.type == WSMsgType.TEXT:
            yield frame.data
        elif frame.type == WSMsgType.BINARY:
            await send_error(ws, "bad_frame", "frames are JSON text")


@functools.cache
def _channel_by_key(enabled_only: bool) -> Select[Channel]:
    """A channel by its key and kind, built once: every visitor socket starts with it."""
    query = select(Channel).where(
        Channel.key == bindparam("key", type_=String),
        Channel.kind == bindparam("kind", type_=String),
    )
    return query.where(Channel.enabled.is_(True)) if enabled_only else query
