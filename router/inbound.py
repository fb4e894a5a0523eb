"""A client's messages: stored in their open dialog, or opening and routing a new one.

Consecutive inbound messages are handled as a run whose reads are done set-wise
(``router.reads.InboundReads``). A message that goes to a dialog already open, the common case,
is then stored without any statement of its own: it waits in ``pending`` until the run ends or a
message that needs more (a new dialog, a repeat, a rating) comes, and ``drain`` counts and
stores all waiting rows at once (``core.db.counters``, one INSERT) and announces them in their
order. Whatever drains first keeps every effect in the order the one-at-a-time code produced
it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update

from core import streams
from core.db import loaded
from core.db.counters import Counting
from core.db.on_cursor import Call
from core.db.schema import Client, ClientIdentity, Dialog, Message
from core.envelope import ClientHintsForCrm, DialogOpenedForCrm, InboundMessage
from core.integration_events import dialog_event
from router.actions import do_intents
from router.assign import do_open_dialog
from router.batch import Batch
from router.decide import decide_open
from router.inbound_reads import InboundReads, routing_reads, routing_rows
from router.lifecycle import decide_client_message, parse_rating
from router.new_client import Added, do_add_clients
from router.reads import snapshot
from router.reminders import arm_reminder
from router.setup_cache import ChannelFacts
from router.statements import MessageRecord, insert_messages

log = logging.getLogger(__name__)


async def do_inbound_run(work: Batch, msgs: Sequence[InboundMessage]) -> None:
    """Handle consecutive inbound messages in order, with their reads done set-wise."""
    if not msgs:
        return
    run = await InboundRun.load(work, msgs)
    for msg in msgs:
        await do_inbound(work, msg, run)
    await run.drain()


async def do_inbound(work: Batch, msg: InboundMessage, run: InboundRun) -> None:
    """Store a client's message in their open dialog, opening and assigning one if needed.

    A message for a dialog already open waits in ``run`` to be flushed with the others; every
    other case first drains the run, so effects keep the order of the messages."""
    channel = await work.channel(msg.channel_id)
    if channel is None or not channel.enabled:
        log.error(
            "inbound message %s names channel_id %d, which is unknown or disabled; dropped",
            msg.external_message_id,
            msg.channel_id,
        )
        return
    identity = await run.identity(channel.id, msg.external_user_id)
    if identity is not None and await _repeated(work, run, channel, identity, msg):
        return
    if identity is not None and await _took_rating(work, identity, msg, run):
        return
    dialog = None
    if identity is not None and msg.thread_dialog_id is None and run.known(identity):
        dialog = run.open_dialog(identity)  # what do_open_dialog would find, without a SELECT
    opened = False
    if dialog is None:
        await run.drain()
        dialog, opened = await do_open_dialog(work, channel, msg, identity, run.new_client)
    if channel.kind == "webchat" and msg.hints.email:
        await _remember_email(work, dialog.client_id, msg.hints.email)
    message = _client_message(work, dialog, msg)
    await run.remember(msg, dialog, message)
    if opened:  # opened with this message counted
        await _route_opened(work, run, channel, msg, dialog, message)
    else:
        # Its count, INSERT, hints, routing and announcements are drain's, in this same order.
        run.defer(msg, dialog, message)


async def _repeated(
    work: Batch,
    run: InboundRun,
    channel: ChannelFacts,
    identity: ClientIdentity,
    msg: InboundMessage,
) -> bool:
    """A message delivered again (a retry, or a crash between commit and ack): store nothing,
    but announce it again in case the first announcement never left. Consumers drop repeats."""
    if await run.stored(channel.id, msg.external_message_id) is None:
        return False
    await run.drain()
    # A repeat within the run: drain stored the first one, so read its row now.
    seen = await run.stored(channel.id, msg.external_message_id)
    assert seen is not None
    dialog = await loaded.get(work.session, Dialog, seen.dialog_id)
    assert dialog is not None
    await work.announce_message(dialog, seen)
    if msg.echo:
        await work.deliver(dialog, seen, identity.external_id)
    return True


async def _remember_email(work: Batch, client_id: int, email: str) -> None:
    """Keep the address a visitor left: the operator's answer follows them there."""
    await work.session.execute(
        update(Client)
        .where(Client.id == client_id, or_(Client.email.is_(None), Client.email != email))
        .values(email=email)
    )


def _client_message(work: Batch, dialog: Dialog, msg: InboundMessage) -> MessageRecord:
    return MessageRecord(
        dialog_id=dialog.id,
        channel_id=msg.channel_id,
        author="client",
        author_name=msg.client_name,
        text=msg.text,
        attachments=[a.model_dump() for a in msg.attachments],
        external_id=msg.external_message_id,
        client_msg_id=msg.client_msg_id,
        created_at=work.now,
        hidden=False,
    )


async def _route_opened(
    work: Batch,
    run: InboundRun,
    channel: ChannelFacts,
    msg: InboundMessage,
    dialog: Dialog,
    message: MessageRecord,
) -> None:
    """Store the first message of a new dialog, tell the CRM, and route the dialog."""
    # As drain stores messages, out of the session: a flush of the unit of work for one row
    # cost several times its INSERT (``router.new_client``).
    await insert_messages(work.session, [message], _INSERTED, _channel_key)
    _tell_hints(work, dialog, msg)
    work.emit(
        streams.CRM,
        DialogOpenedForCrm(dialog_id=dialog.id, client_id=dialog.client_id, line_id=dialog.line_id),
    )
    work.emit(streams.EVENTS, dialog_event("dialog.opened", dialog, work.now, "opened"))
    policy = await run.policy(dialog.line_id)
    states = await run.operator_states(dialog.line_id)
    snap = await snapshot(work, dialog)
    echo_to = msg.external_user_id if msg.echo else None
    # The dialog (routed), then the client's own message, then the greeting.
    opened = decide_open(snap, policy, states, work.now)
    opened += arm_reminder(snap, policy, dialog.operator_messages, work.now)
    # Nobody was invited into a dialog opened in this batch, and routing invites nobody.
    known = work.participants_known
    work.participants_known = {**(known or {}), dialog.id: ()}
    changes_before = work.load_changes
    try:
        await do_intents(work, opened, message, echo_to)
    finally:
        work.participants_known = known
    run.assigned(dialog.line_id, opened, changes_before)


def _tell_hints(work: Batch, dialog: Dialog, msg: InboundMessage) -> None:
    """Pass what the channel said about who the client is on to the CRM sink."""
    if msg.hints.is_empty():
        return
    work.emit(
        streams.CRM,
        ClientHintsForCrm(
            client_id=dialog.client_id,
            identity_id=dialog.identity_id,
            channel_id=msg.channel_id,
            dialog_id=dialog.id,
            hints=msg.hints,
        ),
    )


async def _took_rating(
    work: Batch, identity: ClientIdentity, msg: InboundMessage, run: InboundRun
) -> bool:
    """A rating answer to the last closed dialog's request is stored on it, not opening a new
    dialog; any other text opens one as usual."""
    if run.known(identity):
        last = run.latest_dialog(identity)
    else:
        last = await work.session.scalar(
            select(Dialog)
            .where(Dialog.identity_id == identity.id)
            .order_by(Dialog.id.desc())
            .limit(1)
        )
    if last is None or last.status != "closed" or last.rating is not None:
        return False
    if last.rating_requested_at is None:
        return False
    rating = parse_rating(msg.text, (await run.policy(last.line_id)).rating)
    if rating is None:
        return False
    await run.drain()
    last.rating = rating
    work.emit(
        streams.EVENTS,
        dialog_event("rating.received", last, work.now, "rating", rating=rating),
    )
    message = Message(
        dialog_id=last.id,
        channel_id=last.channel_id,
        author="client",
        author_name=msg.client_name,
        text=msg.text,
        external_id=msg.external_message_id,
        client_msg_id=msg.client_msg_id,
        created_at=work.now,
    )
    work.session.add(message)
    await work.session.flush()
    await run.remember(msg, last, message)
    await work.announce_dialog(last)
    await work.announce_message(last, message)
    if msg.echo:
        await work.deliver(last, message, identity.external_id)
    return True


@dataclass
class Pending:
    """A client message whose row and effects wait for ``drain``; ``message`` is never in the
    session (drain stores it and gives it its id)."""

    msg: InboundMessage
    dialog: Dialog
    message: MessageRecord


@dataclass
class InboundRun(InboundReads):
    """A run's reads, and the client messages for open dialogs that wait to be stored."""

    pending: list[Pending] = field(default_factory=list)
    added: Added = field(default_factory=dict)
    """The clients the run stored, by (channel id, id on the channel)."""

    async def new_client(
        self, channel_id: int, msg: InboundMessage
    ) -> tuple[Client, ClientIdentity]:
        """A new client and identity for the sender of ``msg``, the first message the run
        meets from them. Stored with every client the run is still to meet for the first
        time (``newcomers``), in one statement for all: a burst of new visitors costs two
        statements, not two each. Only rows are written ahead; each client's events keep the
        place of its first message (``do_open_dialog``)."""
        key = (channel_id, msg.external_user_id)
        if key not in self.added:
            ahead = list(self.newcomers)
            names = (
                {k: self.newcomers[k] for k in ahead[ahead.index(key) :] if k not in self.added}
                if key in self.newcomers
                else {key: msg.client_name}
            )
            self.added.update(
                await do_add_clients(
                    self.work.session, [(c, e, n) for (c, e), n in names.items()], self.work.now
                )
            )
        return self.added[key]

    def defer(self, msg: InboundMessage, dialog: Dialog, message: MessageRecord) -> None:
        """Keep a message for an open dialog, not added to the session, for ``drain``."""
        self.pending.append(Pending(msg, dialog, message))

    async def drain(self) -> None:
        """Flush the waiting messages in one go, then give each the effects ``do_inbound``
        gives a message for an open dialog, in their order."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        work = self.work
        dialogs = list({p.dialog.id: p.dialog for p in pending}.values())
        # One executemany for every dialog's counters, the INSERT, then the dialogs' offers and
        # participants: sent together.
        counting = Counting.of(work.now, [p.dialog for p in pending])
        found = await self._insert(pending, counting, routing_reads(dialogs))
        # ``previous`` stays referenced while snapshot runs: the identity map keeps rows only
        # weakly, and snapshot's get of a dialog's previous one costs no statement while held.
        offers, people, previous = await routing_rows(work, dialogs, found)
        # Nothing below writes offers or participants, so what was read stays true.
        work.participants_known = people
        try:
            for p in pending:
                _tell_hints(work, p.dialog, p.msg)
                snap = await snapshot(work, p.dialog, offers.get(p.dialog.id, []))
                policy = await self.policy(p.dialog.line_id)
                reminder = arm_reminder(snap, policy, p.dialog.operator_messages, work.now)
                await do_intents(work, decide_client_message(snap, policy) + reminder)
                await work.announce_message(p.dialog, p.message)
                if p.msg.echo:
                    # The channel shows the client their own message once it is stored.
                    await work.deliver(p.dialog, p.message, p.msg.external_user_id)
        finally:
            del previous
            work.participants_known = None

    async def _insert(
        self, pending: list[Pending], counting: Counting, reads: Sequence[Call]
    ) -> list[Sequence[Any]]:
        """One INSERT … RETURNING for every waiting message, matched back by its unique
        (channel, external id), after ``counting``; the rows of ``reads``, run after it.
        ``remember`` noted each message already: the run's repeats find the same object, which
        now has its id."""
        messages = [p.message for p in pending]
        session = self.work.session
        return await insert_messages(session, messages, _INSERTED, _channel_key, counting, reads)


def _channel_key(message: Any) -> tuple[int, str]:
    return message.channel_id, message.external_id or ""


_INSERTED = (
    "dialog_id",
    "channel_id",
    "author",
    "author_name",
    "text",
    "attachments",
    "external_id",
    "client_msg_id",
    "created_at",
    "hidden",
)
"""The columns ``_client_message`` sets; the rest are None, in the row and in the object."""
