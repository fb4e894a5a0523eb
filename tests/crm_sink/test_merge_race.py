"""A merge and the sink's writes for the same client, interleaved by hand on a real database.

The merge is held after it has read what the two clients own and before it moves anything;
the sink then handles an event for the client about to be merged away. Either the sink waits
for the merge (and writes on the main client) or the merge sees what the sink wrote: nothing
may be left on the merged-away client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core import streams
from core.bus_config import Retry
from core.db.crm_schema import CrmDialogLink, CrmLead, CrmMerge, CrmNote, CrmProfile
from core.db.schema import Dialog, Operator
from core.delivery import Delivery
from core.envelope import (
    CloseDialog,
    CrmEvent,
    DialogClosedForCrm,
    DialogOpenedForCrm,
    DialogTransferredForCrm,
    utcnow,
)
from crm_sink import locks
from crm_sink.actions import CrmWork, do_merge, do_unmerge
from crm_sink.merge import MergeableClient
from crm_sink.store import do_apply
from tests.support.crmhub import CrmHub, crm_hub

Setup = Callable[[CrmHub], Awaitable[tuple[int, int, CrmEvent]]]
"""Builds the two clients and the sink's event: (main client, client to merge away, event)."""

WAIT_S = 30.0
"""Generous bound on each wait: a broken lock would hang the test rather than fail it."""


async def _dialogs(hub: CrmHub) -> list[Dialog]:
    async with hub.session() as s:
        return list(await s.scalars(select(Dialog).order_by(Dialog.id)))


async def _new_client_opens(hub: CrmHub) -> tuple[int, int, CrmEvent]:
    """A known client (dialog and lead) and a new one whose dialog-opened is not applied yet."""
    await hub.say("telegram", "tg-1", "first")
    await hub.drain()
    await hub.say("viber", "vb-1", "second")
    await hub.route()
    known, new = await _dialogs(hub)
    async with hub.session() as s, s.begin():
        # As after the new client's hints: the merge then only reads before it is held.
        s.add(CrmProfile(client_id=new.client_id, custom_fields={}, updated_at=utcnow()))
    opened = DialogOpenedForCrm(dialog_id=new.id, client_id=new.client_id, line_id=new.line_id)
    return known.client_id, new.client_id, opened


async def _two_clients_with_leads(hub: CrmHub) -> tuple[Dialog, Dialog]:
    """Two clients with a dialog and a lead each: the first is the one a merge keeps."""
    await hub.say("telegram", "tg-1", "first")
    await hub.say("viber", "vb-1", "second")
    await hub.drain()
    kept, other = await _dialogs(hub)
    async with hub.session() as s, s.begin():
        profile = await s.get(CrmProfile, kept.client_id)
        assert profile is not None
        profile.updated_at = utcnow() + timedelta(minutes=1)  # changed last: kept
    return kept, other


async def _linked_dialog_closes(hub: CrmHub) -> tuple[int, int, CrmEvent]:
    """Two clients with a lead each; the second one's dialog is closed, not yet applied."""
    kept, closing = await _two_clients_with_leads(hub)
    await hub.publish(streams.COMMANDS, CloseDialog(dialog_id=closing.id, operator_id=None))
    await hub.route()
    closed = DialogClosedForCrm(dialog_id=closing.id, client_id=closing.client_id)
    return kept.client_id, closing.client_id, closed


async def _dialog_transferred(hub: CrmHub) -> tuple[int, int, CrmEvent]:
    """Two clients with a lead each; the second one's dialog is transferred to another
    operator, the CRM side of it not yet applied."""
    kept, moving = await _two_clients_with_leads(hub)
    async with hub.session() as s, s.begin():
        pia = Operator(login="pia", name="Pia", password_hash="x", role="operator")
        s.add(pia)
        await s.flush()
        dialog = await s.get(Dialog, moving.id)
        assert dialog is not None
        dialog.operator_id = pia.id
    transferred = DialogTransferredForCrm(
        dialog_id=moving.id,
        client_id=moving.client_id,
        line_id=moving.line_id,
        from_operator_id=hub.operator_id,
        to_operator_id=pia.id,
    )
    return kept.client_id, moving.client_id, transferred


async def _left_on(session: AsyncSession, client_id: int) -> list[str]:
    """What still belongs to a client: dialogs, leads, transcripts."""
    left = [
        f"dialog {d}"
        for d in await session.scalars(select(Dialog.id).where(Dialog.client_id == client_id))
    ]
    left += [
        f"lead {x}"
        for x in await session.scalars(select(CrmLead.id).where(CrmLead.client_id == client_id))
    ]
    left += [
        f"note {x}"
        for x in await session.scalars(select(CrmNote.id).where(CrmNote.client_id == client_id))
    ]
    return left


class HeldMerge:
    """A merge of two clients held after it has read what they own and before it moves
    anything, until ``may_write`` is set; ``sink_locks`` is set when a lock of a client begins
    once ``note_locks`` is called (only the sink locks while the merge is held)."""

    def __init__(self, hub: CrmHub, main_id: int, dup_id: int, patch: pytest.MonkeyPatch):
        self.hub, self.main_id, self.dup_id, self.patch = hub, main_id, dup_id, patch
        self.has_read, self.may_write = asyncio.Event(), asyncio.Event()
        self.sink_locks = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        patch.setattr("crm_sink.actions.do_apply", self._apply)

    async def _apply(
        self, session: AsyncSession, state: MergeableClient, donors: Iterable[int] = ()
    ) -> None:
        if not self.has_read.is_set():
            self.has_read.set()
            await self.may_write.wait()
        await do_apply(session, state, donors)

    async def start(self) -> asyncio.Task[CrmMerge]:
        """The merge, once it has read and is held."""

        async def merge() -> CrmMerge:
            async with self.hub.session() as s, s.begin():
                work = CrmWork(s, utcnow())
                return await do_merge(work, self.main_id, self.dup_id, None, "manual")

        merging = asyncio.create_task(merge())
        await asyncio.wait_for(self.has_read.wait(), WAIT_S)
        return merging

    def note_locks(self) -> None:
        real_lock = locks._begin_immediate

        def noted_lock(session: Session) -> bool:
            # Every lock of a client starts here, the write lock on SQLite or the row locks
            # after it on PostgreSQL. The sink runs in its writer's thread: the test's loop is
            # told thread-safely.
            self.loop.call_soon_threadsafe(self.sink_locks.set)
            return real_lock(session)

        self.patch.setattr(locks, "_begin_immediate", noted_lock)


@pytest.mark.parametrize(
    "setup",
    [_new_client_opens, _linked_dialog_closes, _dialog_transferred],
    ids=["lead", "transcript", "transfer"],
)
async def test_sink_write_during_a_merge_ends_on_the_main_client(
    db_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch, setup: Setup
) -> None:
    async with crm_hub(db_url, redis_url) as hub:
        main_id, dup_id, event = await setup(hub)
        held = HeldMerge(hub, main_id, dup_id, monkeypatch)
        merging = await held.start()
        held.note_locks()
        sinking = asyncio.create_task(hub.sink.handle([Delivery(streams.CRM, "1-0", event)]))
        waiting = asyncio.create_task(held.sink_locks.wait())
        # The sink either finished on its own (nothing held it) or is at the client's lock.
        await asyncio.wait([sinking, waiting], timeout=WAIT_S, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        held.may_write.set()
        merged, _ = await asyncio.wait_for(asyncio.gather(merging, sinking), WAIT_S)

        assert (merged.main_id, merged.dup_id) == (main_id, dup_id)
        async with hub.session() as s:
            assert await _left_on(s, dup_id) == []
            assert f"dialog {event.dialog_id}" in await _left_on(s, main_id)
            link = await s.get(CrmDialogLink, event.dialog_id)
            lead = await s.get(CrmLead, link.lead_id) if link and link.lead_id else None
        assert lead is not None and lead.client_id == main_id
        if isinstance(event, DialogTransferredForCrm):
            # The responsible follows the dialog on the client it now belongs to.
            async with hub.session() as s:
                main = await s.get(CrmProfile, main_id)
            assert main is not None and main.responsible_id == event.to_operator_id
            assert lead.responsible_id == event.to_operator_id


async def test_a_sink_write_that_meets_an_undo_steps_back_instead_of_deadlocking(
    postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sink waits for a merge that holds the client its dialog belongs to. By the time it
    has that lock the merge has moved the dialog to the main client, which an undo of the
    merge has just locked, and the undo waits for the client the sink holds. Had the sink
    waited for the main client too, PostgreSQL would break the cycle after a second by
    failing one of them, here the undo. The sink steps back instead (a Retry), the undo goes
    through, and the sink's retry applies the event after it."""
    async with crm_hub(postgres_url, redis_url) as hub:
        main_id, dup_id, event = await _dialog_transferred(hub)
        assert isinstance(event, DialogTransferredForCrm)
        held = HeldMerge(hub, main_id, dup_id, monkeypatch)
        sink_holds_dup, resume = asyncio.Event(), threading.Event()
        real_read = locks._read_again

        async def held_after_the_dup(
            session: AsyncSession, ids: list[int], *, for_update: bool, nowait: bool = False
        ) -> None:
            await real_read(session, ids, for_update=for_update, nowait=nowait)
            if for_update and ids == [dup_id] and not resume.is_set():
                held.loop.call_soon_threadsafe(sink_holds_dup.set)
                await asyncio.to_thread(resume.wait, WAIT_S)

        async def undo(merge_id: int) -> None:
            async with hub.session() as s, s.begin():
                await do_unmerge(CrmWork(s, utcnow()), merge_id, None)

        merging = await held.start()
        held.note_locks()
        monkeypatch.setattr(locks, "_read_again", held_after_the_dup)
        sinking = asyncio.create_task(hub.sink.handle([Delivery(streams.CRM, "1-0", event)]))
        await asyncio.wait_for(held.sink_locks.wait(), WAIT_S)
        await asyncio.sleep(0.3)  # the sink waits for the client the merge holds
        held.may_write.set()
        merge = await asyncio.wait_for(merging, WAIT_S)
        await asyncio.wait_for(sink_holds_dup.wait(), WAIT_S)
        undoing = asyncio.create_task(undo(merge.id))
        await asyncio.sleep(0.3)  # the undo holds the main client and waits for the other
        resume.set()
        with pytest.raises(Retry):
            await asyncio.wait_for(sinking, WAIT_S)
        await asyncio.wait_for(undoing, WAIT_S)  # not failed to break a deadlock

        await hub.sink.handle([Delivery(streams.CRM, "1-0", event)])  # the bus's retry
        async with hub.session() as s:
            dialog = await s.get(Dialog, event.dialog_id)
            owner = await s.get(CrmProfile, dup_id)
        assert dialog is not None and dialog.client_id == dup_id  # back where it was
        assert owner is not None and owner.responsible_id == event.to_operator_id
