"""What one batch of router work shares: its session, its clock, its caches and its effects.

Effects are collected while the batch runs and published only after its transaction committed,
so nothing ever announces a dialog or a message that a rollback took back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import streams
from core.audience import dialog_audience
from core.db import loaded
from core.db.figures import CLOCKS_FROM
from core.db.on_cursor import Call, core_rows, core_rows_together
from core.db.routing_schema import line_members
from core.db.schema import Channel, Client, Dialog, Line, Operator
from core.envelope import (
    Attachment,
    DialogEvent,
    IntegrationEvent,
    MessageEvent,
    MessageOrigin,
    OutboundMessage,
    ReminderEvent,
)
from core.presence import LiveSockets
from core.roles import SUPERVISOR_ROLES
from core.views import Author, ShownMessage, dialog_view, message_view
from router.dialog_people import offers_of_dialogs, participants_of_dialogs
from router.intents import CancelTimer, ReminderStage, SetTimer
from router.setup_cache import (
    SETUP,
    ChannelFacts,
    LineFacts,
    SetupCopy,
    channel_facts,
    line_facts,
    line_settings,
    version_read,
)


class Audienced(Protocol):
    """What decides who is told about a dialog: a ``Dialog``, or the same three columns read
    as a row."""

    @property
    def id(self) -> int: ...

    @property
    def line_id(self) -> int: ...

    @property
    def operator_id(self) -> int | None: ...


@dataclass
class Batch:
    """One transaction's worth of router work."""

    session: AsyncSession
    now: datetime
    effects: list[tuple[str, BaseModel]] = field(default_factory=list)
    timer_ops: list[SetTimer | CancelTimer] = field(default_factory=list)
    """Timers to arm or disarm once the batch has committed, in order."""
    load_changes: int = 0
    """How often an operator's load or presence changed in the batch so far: a copy of
    operator states read before is stale once it moved (``router.inbound_reads``)."""
    audits: list[dict[str, Any]] = field(default_factory=list)
    """Routing steps to write before the commit (``router.audit.write_audits``), in order."""
    sockets: LiveSockets | None = None
    """The operators' live console sockets, for presence timers (None: nobody counts them)."""
    writer: bool = False
    """True in the router's writer transaction: reads that decide on an operator's load lock
    the rows they decide on (``router.locks``). A read-only caller (the console asking whether
    a take would go through) locks nothing."""
    _setup: SetupCopy | None = None
    _audience_before: dict[int, tuple[int, ...]] = field(default_factory=dict)
    participants_known: dict[int, tuple[int, ...]] | None = None
    """Read set-wise by router/inbound.py for a stretch of work that changes no participant."""

    async def setup(self) -> SetupCopy:
        """The line setup valid in this batch's transaction, shared with the process's other
        batches while nobody changes it (``router.setup_cache``): its version is read once
        per batch, the first time the batch needs any of it."""
        setup = self._setup
        if setup is None:
            setup = await SETUP.current(self.session)
            self._take_setup(setup)
        return setup

    async def read_with_setup(self, calls: Sequence[Call]) -> list[Sequence[Any]]:
        """``core_rows_together`` of ``calls``, with the setup's version read among them when
        the batch has not read it yet: a round trip fewer on PostgreSQL for the batch's first
        reads, which need the setup next."""
        if self._setup is not None:
            return await core_rows_together(self.session, calls)
        version, *results = await core_rows_together(self.session, [version_read(), *calls])
        self._take_setup(SETUP.at_version(self.session, version))
        return results

    def _take_setup(self, setup: SetupCopy) -> None:
        self._setup = setup
        # The statistics' figures of the dialogs this batch flushes take their lines' clocks
        # from this copy, valid in the batch's transaction, instead of a read.
        self.session.info[CLOCKS_FROM] = setup.clock

    async def channel(self, channel_id: int) -> ChannelFacts | None:
        """A channel by id (None: no such channel)."""
        setup = await self.setup()
        if channel_id not in setup.channels:
            row = await loaded.get(self.session, Channel, channel_id)
            setup.channels[channel_id] = None if row is None else channel_facts(row)
        return setup.channels[channel_id]

    async def line(self, line_id: int) -> LineFacts:
        """A line by id; LookupError when it does not exist."""
        setup = await self.setup()
        if line_id not in setup.lines:
            row = await loaded.get(self.session, Line, line_id)
            if row is None:
                raise LookupError(f"line {line_id} does not exist")
            setup.lines[line_id] = line_facts(row, line_settings(row))
        return setup.lines[line_id]

    async def supervisors(self, line_id: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Every admin, and the managers on the line (directly or through a group)."""
        setup = await self.setup()
        if setup.supervisors is None:
            rows = await self.session.execute(
                select(Operator.id, Operator.role).where(Operator.role.in_(SUPERVISOR_ROLES))
            )
            setup.supervisors = tuple((op_id, role) for op_id, role in rows)
        admins = tuple(op_id for op_id, role in setup.supervisors if role == "admin")
        managers = {op_id for op_id, role in setup.supervisors if role != "admin"}
        if not managers:
            # No extra read in the common case of a hub without managers.
            return admins, ()
        on_line = (await self.line_members([line_id]))[line_id]
        return admins, tuple(op for op in on_line if op in managers)

    async def line_members(self, line_ids: Iterable[int]) -> dict[int, tuple[int, ...]]:
        """Everyone in these lines' queues, directly or through a group: one statement for the
        lines not read since the setup last changed."""
        setup = await self.setup()
        wanted = set(line_ids)
        missing = sorted(wanted - setup.members.keys())
        if missing:
            found: dict[int, list[int]] = {line_id: [] for line_id in missing}
            for line_id, operator_id in await self.session.execute(line_members(missing)):
                found[line_id].append(operator_id)
            setup.members.update({k: tuple(v) for k, v in found.items()})
        return {line_id: setup.members[line_id] for line_id in wanted}

    async def recipients(
        self, dialog: Audienced, participants: tuple[int, ...] | None = None
    ) -> tuple[int, ...]:
        """Who is told about a dialog: who sees it, by ``core.audience`` (``participants``:
        the dialog's, when the caller has read them already)."""
        members: tuple[int, ...] = ()
        if dialog.operator_id is None:
            # The line's members see a dialog only while it has no operator.
            members = (await self.line_members([dialog.line_id]))[dialog.line_id]
        admins, managers = await self.supervisors(dialog.line_id)
        if participants is None:
            participants = await self.participants(dialog.id)
        return dialog_audience(dialog.operator_id, members, participants, admins, managers)

    async def remember_audience(self, dialog: Dialog) -> None:
        """Note who sees the dialog before this batch changes it: a take, a transfer or a skip
        moves it out of some lists, and only an event to the old audience removes it there."""
        if dialog.id not in self._audience_before:
            self._audience_before[dialog.id] = await self.recipients(dialog)

    async def participants(self, dialog_id: int) -> tuple[int, ...]:
        """Colleagues invited into the dialog and supervisors who joined it."""
        if self.participants_known and dialog_id in self.participants_known:
            return self.participants_known[dialog_id]
        rows = await core_rows(self.session, participants_of_dialogs(), {"ids": [dialog_id]})
        return tuple(operator_id for _dialog_id, operator_id in rows)

    async def offered_to(self, dialog: Dialog) -> tuple[int, ...]:
        """Operators holding a pending offer of the dialog, in the order offered."""
        if dialog.offer_round == 0:
            return ()  # never offered: an offer's round is 1 and up (``router.decide``)
        rows = await core_rows(self.session, offers_of_dialogs(), {"ids": [dialog.id]})
        return tuple(operator_id for _d, operator_id, state, _x in rows if state == "pending")

    def emit(self, stream: str, payload: BaseModel) -> None:
        """Publish ``payload`` on ``stream`` once the batch has committed."""
        if isinstance(payload, DialogEvent) and stream == streams.EVENTS:
            payload = self._with_hook(payload)
        self.effects.append((stream, payload))

    def _with_hook(self, event: DialogEvent) -> DialogEvent:
        """The dialog event carrying the integration event emitted last on ``events``, when
        nothing else went there after it: one entry then serves the console and the
        integrations, and the integrations still hear their events in the order emitted."""
        for at in range(len(self.effects) - 1, -1, -1):
            stream, earlier = self.effects[at]
            if stream != streams.EVENTS:
                continue
            if not isinstance(earlier, IntegrationEvent) or event.hook is not None:
                return event
            del self.effects[at]
            return event.model_copy(update={"hook": earlier})
        return event

    async def announce_dialog(self, dialog: Dialog, last: ShownMessage | None = None) -> None:
        """Tell the console a dialog appeared or changed."""
        channel = await self.channel(dialog.channel_id)
        client = await loaded.get(self.session, Client, dialog.client_id)
        assert channel is not None and client is not None
        participants = await self.participants(dialog.id)
        view = dialog_view(
            dialog,
            await self.line(dialog.line_id),
            channel,
            client,
            last,
            offered_to=await self.offered_to(dialog),
            participants=participants,
        )
        # The key names the state shown, so a redelivered batch repeats keys (dropped by the
        # console) while every real change, an offer or a colleague joining, gets a new one.
        state = view.model_dump_json(exclude={"last_message"}).encode()
        digest = hashlib.sha256(state).hexdigest()[:20]
        key = f"dialog:{dialog.id}:{dialog.offer_round}:{digest}"
        now_seen = await self.recipients(dialog, participants)
        leaving = tuple(sorted(set(self._audience_before.get(dialog.id, ())) - set(now_seen)))
        everyone = tuple(sorted({*now_seen, *leaving}))
        self.emit(
            streams.EVENTS,
            DialogEvent(key=key, recipients=everyone, dialog=view, leaving=leaving),
        )

    async def announce_message(self, dialog: Dialog, message: ShownMessage) -> None:
        """Tell the console and the integrations (``message.created``) about a stored
        message."""
        self.emit(
            streams.EVENTS,
            MessageEvent(
                key=f"message:{message.id}",
                recipients=await self.recipients(dialog),
                message=message_view(message),
                # Integrations read their message.created from this same entry.
                created=None
                if message.hidden
                else MessageOrigin(client_id=dialog.client_id, channel_id=dialog.channel_id),
            ),
        )

    async def announce_reminder(self, dialog_id: int, stage: ReminderStage, waited: int) -> None:
        """Remind the dialog's operator (or, while it has none, whoever sees it), or at the
        manager stage the line's managers, that its client still waits for an answer."""
        dialog = await loaded.get(self.session, Dialog, dialog_id)
        if dialog is None:
            return
        if stage == "manager":
            _admins, recipients = await self.supervisors(dialog.line_id)
        elif dialog.operator_id is not None:
            recipients = (dialog.operator_id,)
        else:
            recipients = await self.recipients(dialog)
        if not recipients:
            return
        client = await loaded.get(self.session, Client, dialog.client_id)
        self.emit(
            streams.EVENTS,
            ReminderEvent(
                key=f"reminder:{dialog.id}:{stage}:{dialog.operator_messages}",
                recipients=recipients,
                dialog_id=dialog.id,
                stage=stage,
                waited_minutes=waited,
                client_name=client.name if client is not None else "",
            ),
        )

    async def deliver(self, dialog: Dialog, message: ShownMessage, external_user_id: str) -> None:
        """Hand a stored message to its channel's connector; hidden notes never leave."""
        if message.hidden:
            return
        channel = await self.channel(dialog.channel_id)
        assert channel is not None
        self.emit(
            streams.outbound(channel.kind),
            OutboundMessage(
                message_id=message.id,
                dialog_id=dialog.id,
                channel_id=channel.id,
                external_user_id=external_user_id,
                author=cast(Author, message.author),
                author_name=message.author_name,
                text=message.text,
                client_msg_id=message.client_msg_id,
                at=message.created_at,
                attachments=tuple(Attachment.model_validate(a) for a in message.attachments or ()),
            ),
        )
