"""The set-wise reads of a run of consecutive inbound messages.

A statement costs the router far more than the rows it reads (docs/BENCHMARKS.md), so a run
of inbound messages reads what it needs with one statement per kind instead of several per
message: the messages already stored, the identities, their open and latest dialogs, and the
lines' policies. Nothing here writes.

The operators' states a line's new dialogs are routed by are read once per run as well: the
copy is kept while only the run's own assignments moved the operators' loads, and each of
those is counted into it, so the next new dialog sees them without a read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Self

from sqlalchemy import select

from core.db import loaded
from core.db.loaded import adopt
from core.db.on_cursor import Call
from core.db.schema import ClientIdentity, Dialog, Message
from core.envelope import InboundMessage
from core.views import ShownMessage
from router.batch import Batch
from router.distribution import OperatorState
from router.intents import MOVES_LOAD, Assign, Intent
from router.reads import (
    OfferFacts,
    chunks,
    load_policy,
    offers_from,
    offers_reads,
    operator_states,
    participants_from,
    participants_reads,
)
from router.snapshots import OPEN_STATUSES, LinePolicy
from router.statements import DIALOG, IDENTITY, identities_with_dialogs, message_ids_by_external_ids

Rows = Sequence[Any]

Key = tuple[int, str]
"""(channel id, external id) of a message or of a client's identity."""


@dataclass
class InboundReads:
    """What a run of consecutive inbound messages read, kept up to date as the run writes."""

    work: Batch
    messages: dict[Key, ShownMessage | None] = field(default_factory=dict)
    identities: dict[Key, ClientIdentity | None] = field(default_factory=dict)
    dialogs: dict[int, list[Dialog]] = field(default_factory=dict)
    """Per identity id: its dialogs that were open when read, its latest, and the new ones."""
    policies: dict[int, LinePolicy] = field(default_factory=dict)
    states: dict[int, list[OperatorState]] = field(default_factory=dict)
    """Per line: its operators' states, true while the batch's ``load_changes`` is
    ``states_at``."""
    states_at: int = -1
    newcomers: dict[Key, str] = field(default_factory=dict)
    """The clients the run meets for the first time, in the order of their first messages,
    each with the name that message gave: every one of them is stored by the run
    (``InboundRun.new_client``). Not those whose messages a channel tied to a dialog (email
    threading), which may belong to a client known already."""

    @classmethod
    async def load(cls, work: Batch, msgs: Sequence[InboundMessage]) -> Self:
        """Read, one statement per kind and channel, what ``msgs`` will look up: with the
        setup's version, in one round trip where the driver can."""
        run = cls(work)
        by_channel: dict[int, list[InboundMessage]] = defaultdict(list)
        for msg in msgs:
            by_channel[msg.channel_id].append(msg)
        # Every channel's reads before its row is looked at: a batch's messages of a missing
        # or disabled channel are rare, and reading them for nothing costs less than a round
        # trip of its own for the setup.
        reads = {cid: run._channel_reads(cid, group) for cid, group in by_channel.items()}
        results = await work.read_with_setup(
            [c for stored, named in reads.values() for c in (*stored, *named)]
        )
        at = 0
        taken = set()
        for channel_id, (stored, named) in reads.items():
            found = results[at : at + len(stored) + len(named)]
            at += len(found)
            channel = await work.channel(channel_id)
            if channel is None or not channel.enabled:
                continue  # do_inbound drops these before any lookup
            await run._take_channel(channel_id, found[: len(stored)], found[len(stored) :])
            taken.add(channel_id)
        threaded = {
            (m.channel_id, m.external_user_id) for m in msgs if m.thread_dialog_id is not None
        }
        for msg in msgs:
            key = (msg.channel_id, msg.external_user_id)
            if msg.channel_id in taken and run.identities[key] is None and key not in threaded:
                run.newcomers.setdefault(key, msg.client_name)
        return run

    def _channel_reads(
        self, channel_id: int, group: Sequence[InboundMessage]
    ) -> tuple[list[Call], list[Call]]:
        """The reads of the stored messages and of the identities that one channel's messages
        name; both are taken as read from here on."""
        ext_ids = {m.external_message_id for m in group}
        self.messages.update({(channel_id, e): None for e in ext_ids})
        users = {m.external_user_id for m in group}
        self.identities.update({(channel_id, u): None for u in users})
        stored: list[Call] = [
            (message_ids_by_external_ids(), {"channel_id": channel_id, "ids": chunk})
            for chunk in chunks(ext_ids)
        ]
        named: list[Call] = [
            (identities_with_dialogs(), {"channel_id": channel_id, "ids": chunk})
            for chunk in chunks(users)
        ]
        return stored, named

    async def _take_channel(
        self, channel_id: int, stored: Sequence[Rows], named: Sequence[Rows]
    ) -> None:
        """The stored messages and the identities that ``_channel_reads`` found."""
        session = self.work.session
        hits = [row.id for rows in stored for row in rows]
        for some in chunks(hits):  # a repeat: rare, so its entity is read only then
            for message in await loaded.by_ids(session, Message, some):
                self.messages[(channel_id, message.external_id or "")] = message
        split = len(IDENTITY.keys)
        sync = session.sync_session
        for found in named:
            for row in found:
                identity: ClientIdentity = adopt(sync, IDENTITY, row[:split])
                self.identities[(channel_id, identity.external_id)] = identity
                dialogs = self.dialogs.setdefault(identity.id, [])
                if row[split + DIALOG.primary] is not None:  # an identity without dialogs
                    dialogs.append(adopt(sync, DIALOG, row[split:]))

    async def stored(self, channel_id: int, external_id: str) -> ShownMessage | None:
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

    async def remember(
        self, msg: InboundMessage, dialog: Dialog, message: ShownMessage | None
    ) -> None:
        """Record what the run wrote for ``msg``: its message, and the identity and dialog
        ``do_open_dialog`` may have created, so later messages of the run find them."""
        if message is not None:
            self.messages[(msg.channel_id, msg.external_message_id)] = message
        key = (msg.channel_id, msg.external_user_id)
        if self.identities.get(key) is None:
            # do_open_dialog made it in this session, so the identity map has it (no SQL).
            identity = await loaded.get(self.work.session, ClientIdentity, dialog.identity_id)
            if identity is not None:
                self.identities[key] = identity
                self.dialogs.setdefault(identity.id, [])
        known = self.dialogs.get(dialog.identity_id)
        if known is not None and all(d is not dialog for d in known):
            known.append(dialog)

    async def operator_states(self, line_id: int) -> list[OperatorState]:
        """``router.reads.operator_states``, read once per line while no load moves but by
        the run's own assignments (``assigned``)."""
        if self.states_at != self.work.load_changes:
            self.states.clear()
            self.states_at = self.work.load_changes
        if line_id not in self.states:
            self.states[line_id] = await operator_states(self.work, line_id)
        return self.states[line_id]

    def assigned(self, line_id: int, intents: Sequence[Intent], changes_before: int) -> None:
        """Bring the copied states up to date after the run routed a dialog of ``line_id``
        with ``intents``, the batch's ``load_changes`` having been ``changes_before``; a
        copy that cannot be brought up to date (an offer, a close, routing that followed
        it) is dropped."""
        moved = [i for i in intents if isinstance(i, MOVES_LOAD)]
        ours = changes_before == self.states_at
        if not ours or self.work.load_changes != changes_before + len(moved):
            return  # stale: read again at the next use
        if not all(isinstance(i, Assign) for i in moved):
            return
        for intent in moved:
            assert isinstance(intent, Assign)
            for line, states in self.states.items():
                self.states[line] = [
                    _one_more(s, self.work.now, line == line_id)
                    if s.operator_id == intent.operator_id
                    else s
                    for s in states
                ]
        self.states_at = self.work.load_changes

    async def policy(self, line_id: int) -> LinePolicy:
        """A line's policy: the router never writes lines or their queues."""
        if line_id not in self.policies:
            self.policies[line_id] = await load_policy(self.work, line_id)
        return self.policies[line_id]


def routing_reads(dialogs: Sequence[Dialog]) -> list[Call]:
    """The reads of ``routing_rows``' offers and participants, to run with others."""
    ids = [d.id for d in dialogs]
    return [*offers_reads(ids), *participants_reads(set(ids))]


async def routing_rows(
    work: Batch, dialogs: Sequence[Dialog], found: Sequence[Sequence[Any]]
) -> tuple[dict[int, list[OfferFacts]], dict[int, tuple[int, ...]], dict[int, Dialog]]:
    """Offers, participants and previous dialogs, set-wise, with ``found``, the rows of
    ``routing_reads``; the waiting dialogs' line members are read into the batch's setup in the
    same pass (``Batch.line_members``)."""
    ids = [d.id for d in dialogs]
    offer_reads = len(offers_reads(ids))  # as many as routing_reads sent, first
    offers = offers_from(found[:offer_reads])
    joined = participants_from(set(ids), found[offer_reads:])
    # Group members too: the same audience as Batch.recipients reads one dialog at a time.
    await work.line_members(d.line_id for d in dialogs if d.operator_id is None)
    before = {d.previous_dialog_id for d in dialogs if d.previous_dialog_id is not None}
    previous: dict[int, Dialog] = {}
    for chunk in chunks(before):
        previous.update({d.id: d for d in await loaded.by_ids(work.session, Dialog, chunk)})
    return offers, joined, previous


def _id(dialog: Dialog) -> int:
    return dialog.id


def _one_more(state: OperatorState, now: datetime, on_this_line: bool) -> OperatorState:
    """``state`` after the operator was given one more dialog at ``now``."""
    return replace(
        state,
        open_dialogs_on_line=state.open_dialogs_on_line + int(on_this_line),
        open_dialogs_total=state.open_dialogs_total + 1,
        last_assigned_at=now,
    )
