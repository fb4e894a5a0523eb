"""Set-wise reads for a run of inbound messages, and the client messages it stores in bulk.

A statement through SQLAlchemy async costs about half a millisecond of Python, whatever it reads
(docs/BENCHMARKS.md), so the router reads what a run of consecutive inbound messages needs with
one statement per kind instead of several per message: the messages already stored, the
identities, their open and latest dialogs, and the lines' policies.

A message that goes to a dialog already open, the common case, is then stored without any
statement of its own: it waits in ``pending`` until the run ends or a message that needs more
(a new dialog, a repeat, a rating) comes, and ``drain`` flushes all waiting rows at once and
announces them in their order. Whatever drains first keeps every effect in the order the
one-at-a-time code produced it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import func, insert, or_, select

from core import streams
from core.db.routing_schema import DialogOffer, DialogParticipant, line_members
from core.db.schema import ClientIdentity, Dialog, Message
from core.envelope import ClientHintsForCrm, InboundMessage
from router.assign import OPEN_STATUSES
from router.batch import Batch
from router.decide import LinePolicy
from router.lifecycle import decide_client_message
from router.routing import do_apply, load_policy, snapshot

Key = tuple[int, str]
"""(channel id, external id) of a message or of a client's identity."""

T = TypeVar("T")

CHUNK = 400
"""Keys per ``IN (…)``: under every database's limit of bound parameters."""


@dataclass
class Pending:
    """A client message whose row and effects wait for ``drain``; ``message`` is not in the
    session until then (drain replaces it with the stored row)."""

    msg: InboundMessage
    dialog: Dialog
    message: Message
    webchat: bool


@dataclass
class InboundRun:
    """What a run of consecutive inbound messages read, kept up to date as the run writes."""

    work: Batch
    messages: dict[Key, Message | None] = field(default_factory=dict)
    identities: dict[Key, ClientIdentity | None] = field(default_factory=dict)
    dialogs: dict[int, list[Dialog]] = field(default_factory=dict)
    """Per identity id: its dialogs that were open when read, its latest, and the new ones."""
    policies: dict[int, LinePolicy] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    held: dict[int, Dialog] = field(default_factory=dict)

    @classmethod
    async def load(cls, work: Batch, msgs: Sequence[InboundMessage]) -> InboundRun:
        """Read, one statement per kind and channel, what ``msgs`` will look up."""
        run = cls(work)
        by_channel: dict[int, list[InboundMessage]] = defaultdict(list)
        for msg in msgs:
            by_channel[msg.channel_id].append(msg)
        for channel_id, group in by_channel.items():
            channel = await work.channel(channel_id)
            if channel is None or not channel.enabled:
                continue  # do_inbound drops these before any lookup
            ext_ids = {m.external_message_id for m in group}
            run.messages.update({(channel_id, e): None for e in ext_ids})
            for chunk in _chunks(ext_ids):
                for message in await work.session.scalars(
                    select(Message).where(
                        Message.channel_id == channel_id, Message.external_id.in_(chunk)
                    )
                ):
                    run.messages[(channel_id, message.external_id or "")] = message
            users = {m.external_user_id for m in group}
            run.identities.update({(channel_id, u): None for u in users})
            for chunk in _chunks(users):
                for identity in await work.session.scalars(
                    select(ClientIdentity).where(
                        ClientIdentity.channel_id == channel_id,
                        ClientIdentity.external_id.in_(chunk),
                    )
                ):
                    run.identities[(channel_id, identity.external_id)] = identity
        found = [i.id for i in run.identities.values() if i is not None]
        for identity_id in found:
            run.dialogs[identity_id] = []
        for ids in _chunks(found):
            latest = (select(func.max(Dialog.id)).where(Dialog.identity_id.in_(ids))).group_by(
                Dialog.identity_id
            )
            for dialog in await work.session.scalars(
                select(Dialog).where(
                    Dialog.identity_id.in_(ids),
                    or_(Dialog.status.in_(OPEN_STATUSES), Dialog.id.in_(latest)),
                )
            ):
                run.dialogs[dialog.identity_id].append(dialog)
        return run

    async def stored(self, channel_id: int, external_id: str) -> Message | None:
        """The message already stored under this channel's id for it."""
        key = (channel_id, external_id)
        if key not in self.messages:  # not part of the run when it was read
            self.messages[key] = await self.work.session.scalar(
                select(Message).where(
                    Message.channel_id == channel_id, Message.external_id == external_id
                )
            )
        return self.messages[key]

    async def identity(self, channel_id: int, external_id: str) -> ClientIdentity | None:
        """The client's identity on this channel."""
        key = (channel_id, external_id)
        if key not in self.identities:
            self.identities[key] = await self.work.session.scalar(
                select(ClientIdentity).where(
                    ClientIdentity.channel_id == channel_id,
                    ClientIdentity.external_id == external_id,
                )
            )
        return self.identities[key]

    def known(self, identity: ClientIdentity) -> bool:
        """True when the run read this identity's dialogs (else the caller queries itself)."""
        return identity.id in self.dialogs

    def latest_dialog(self, identity: ClientIdentity) -> Dialog | None:
        """The identity's newest dialog in any status; only for a ``known`` identity."""
        return max(self.dialogs[identity.id], key=_id, default=None)

    def open_dialog(self, identity: ClientIdentity) -> Dialog | None:
        """The identity's newest waiting or open dialog, as ``do_open_dialog`` picks it;
        statuses are read from the live rows, so a dialog closed in this run is not open."""
        live = [d for d in self.dialogs[identity.id] if d.status in OPEN_STATUSES]
        return max(live, key=_id, default=None)

    async def remember(self, msg: InboundMessage, dialog: Dialog, message: Message | None) -> None:
        """Record what the run wrote for ``msg``: its message, and the identity and dialog
        ``do_open_dialog`` may have created, so later messages of the run find them."""
        if message is not None:
            self.messages[(msg.channel_id, msg.external_message_id)] = message
        key = (msg.channel_id, msg.external_user_id)
        if self.identities.get(key) is None:
            # do_open_dialog made it in this session, so the identity map has it (no SQL).
            identity = await self.work.session.get(ClientIdentity, dialog.identity_id)
            if identity is not None:
                self.identities[key] = identity
                self.dialogs.setdefault(identity.id, [])
        known = self.dialogs.get(dialog.identity_id)
        if known is not None and all(d is not dialog for d in known):
            known.append(dialog)

    async def policy(self, line_id: int) -> LinePolicy:
        """A line's policy, read once per run: the router never writes lines or their queues."""
        if line_id not in self.policies:
            self.policies[line_id] = await load_policy(self.work, line_id)
        return self.policies[line_id]

    def defer(self, msg: InboundMessage, dialog: Dialog, message: Message, webchat: bool) -> None:
        """Keep a message for an open dialog, not added to the session, for ``drain``."""
        self.pending.append(Pending(msg, dialog, message, webchat))

    async def drain(self) -> None:
        """Flush the waiting messages in one go, then give each the effects ``do_inbound``
        gives a message for an open dialog, in their order."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        work = self.work
        await work.session.flush()  # the dialogs' counters, one executemany
        await self._insert(pending)
        dialogs = list({p.dialog.id: p.dialog for p in pending}.values())
        offers, people, members, previous = await _routing_rows(work, dialogs)
        # Held while snapshot runs: the identity map keeps rows only weakly, and snapshot's
        # get of a dialog's previous one costs no statement while it has it.
        self.held = previous
        # Nothing below writes offers or participants, so what was read stays true.
        work.participants_known = people
        work.line_members_known = members
        try:
            for p in pending:
                dialog = p.dialog
                if not p.msg.hints.is_empty():
                    work.emit(
                        streams.CRM,
                        ClientHintsForCrm(
                            client_id=dialog.client_id,
                            identity_id=dialog.identity_id,
                            channel_id=p.message.channel_id,
                            dialog_id=dialog.id,
                            hints=p.msg.hints,
                        ),
                    )
                snap = await snapshot(work, dialog, offers.get(dialog.id, []))
                policy = await self.policy(dialog.line_id)
                await do_apply(work, decide_client_message(snap, policy))
                await work.announce_message(dialog, p.message)
                if p.webchat:
                    # The web chat shows the visitor their own message once it is stored.
                    await work.deliver(dialog, p.message, p.msg.external_user_id)
        finally:
            self.held = {}
            work.participants_known = None
            work.line_members_known = None

    async def _insert(self, pending: list[Pending]) -> None:
        """One INSERT … RETURNING for every waiting message. The ORM would send one INSERT
        per row here: on SQLite it cannot match returned ids to objects by order (no insert
        sentinel), so the rows come back as objects and are matched by their unique
        (channel, external id) instead."""
        rows = [{column: getattr(p.message, column) for column in _INSERTED} for p in pending]
        stored = await self.work.session.scalars(insert(Message).returning(Message), rows)
        by_key = {(m.channel_id, m.external_id or ""): m for m in stored}
        for p in pending:
            p.message = by_key[(p.message.channel_id, p.msg.external_message_id)]
            self.messages[(p.message.channel_id, p.msg.external_message_id)] = p.message


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
)
"""The columns do_inbound sets on a client message; the rest take their defaults."""


async def _routing_rows(
    work: Batch, dialogs: Sequence[Dialog]
) -> tuple[
    dict[int, list[DialogOffer]],
    dict[int, tuple[int, ...]],
    dict[int, tuple[int, ...]],
    dict[int, Dialog],
]:
    """Offers, participants, waiting dialogs' line members and previous dialogs, set-wise."""
    session = work.session
    ids = [d.id for d in dialogs]
    offers: dict[int, list[DialogOffer]] = defaultdict(list)
    joined: dict[int, list[int]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        for offer in await session.scalars(
            select(DialogOffer).where(DialogOffer.dialog_id.in_(chunk)).order_by(DialogOffer.id)
        ):
            offers[offer.dialog_id].append(offer)
        rows = await session.execute(
            select(DialogParticipant.dialog_id, DialogParticipant.operator_id)
            .where(DialogParticipant.dialog_id.in_(chunk))
            .order_by(DialogParticipant.joined_at, DialogParticipant.operator_id)
        )
        for dialog_id, operator_id in rows:
            joined[dialog_id].append(operator_id)
    lines = {d.line_id for d in dialogs if d.operator_id is None}
    members: dict[int, list[int]] = {line_id: [] for line_id in lines}
    if lines:
        # Group members too: the same audience as Batch.recipients reads one dialog at a time.
        rows = await session.execute(line_members(list(lines)))
        for line_id, operator_id in rows:
            members[line_id].append(operator_id)
    before = {d.previous_dialog_id for d in dialogs if d.previous_dialog_id is not None}
    previous: dict[int, Dialog] = {}
    for chunk in _chunks(before):
        found = await session.scalars(select(Dialog).where(Dialog.id.in_(chunk)))
        previous.update({d.id: d for d in found})
    return (
        offers,
        {k: tuple(v) for k, v in joined.items()},
        {k: tuple(v) for k, v in members.items()},
        previous,
    )


def _chunks(items: Iterable[T]) -> list[list[T]]:
    values = list(items)
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def _id(dialog: Dialog) -> int:
    return dialog.id
