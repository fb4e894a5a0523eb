"""Runs the CRM sink: one consumer of the ``crm`` stream in group ``crm``.

A batch is applied to the built-in CRM tables in one transaction; after the commit its pushes
go to the external adapter, if one is configured. If the adapter cannot be reached the whole
batch raises ``Retry`` and stays pending: on redelivery the table work finds itself already
done and queues the same pushes again, which the adapter recognises by key. So the order is
always "our tables first, the outside world after", and nothing is lost in between.

Nobody waits for the sink: a lead written a moment later changes nothing for the client or the
operator. So after a read that brought events, the sink lets more gather for ``gather_s``
before it reads again. Its transactions are then fewer and larger, and in a burst of new
dialogs it writes them a little after the router's busiest moment instead of in it: the two
share one core, and one SQLite writer, when every role runs in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import TypeAdapter
from sqlalchemy.exc import IntegrityError

from config.settings import Settings
from core import streams
from core.bus import Bus, Delivery, Retry
from core.db import SessionMaker
from core.db.held import hold_entities
from core.db.writer import DbWriter
from core.envelope import (
    ClientHintsForCrm,
    CrmEvent,
    DialogClosedForCrm,
    DialogOpenedForCrm,
    DialogTransferredForCrm,
    utcnow,
)
from crm_sink.actions import CrmWork, do_dialog_closed, do_dialog_opened, do_hints
from crm_sink.locks import OwnerBusy
from crm_sink.pushes import Adapter, ExternalRefs
from crm_sink.transfers import do_dialog_transferred

log = logging.getLogger(__name__)

CRM_EVENT: TypeAdapter[CrmEvent] = TypeAdapter(CrmEvent)


def make_adapter(settings: Settings, sessions: SessionMaker) -> Adapter | None:
    """The external adapter the settings choose, or None for the built-in CRM alone."""
    if settings.crm_adapter == "webhook":
        from crm_sink.webhook import WebhookAdapter

        return WebhookAdapter(
            settings.crm_webhook_url,
            settings.crm_webhook_secret.get_secret_value().encode(),
            ExternalRefs(sessions, "webhook"),
        )
    if settings.crm_adapter == "bitrix24":
        from crm_sink.bitrix24 import Bitrix24Adapter

        return Bitrix24Adapter(settings.crm_bitrix24_url, ExternalRefs(sessions, "bitrix24"))
    return None


class CrmSink:
    """Applies CRM events to the built-in tables and forwards the results to an adapter."""

    def __init__(
        self,
        sessions: SessionMaker,
        bus: Bus,
        adapter: Adapter | None = None,
        phone_region: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        writer: DbWriter | None = None,
        gather_s: float = 0.0,
    ) -> None:
        self.sessions = writer.sessions if writer is not None else sessions
        self.bus = bus
        self.adapter = adapter
        self.phone_region = phone_region
        self.clock = clock
        self.writer = writer
        """The thread the batches' transactions run in, on a synchronous driver, as the
        router's do (``core.db.writer``); None runs them on the caller's loop."""
        self.gather_s = gather_s
        """How long ``run`` lets events gather after a read that brought some
        (``crm_gather_ms``)."""
        self._handled = False
        """Whether a batch was handled since the last pause."""

    async def handle(self, batch: Sequence[Delivery[CrmEvent]]) -> None:
        """Apply a batch in one transaction, then push its results out."""
        self._handled = True
        try:
            if self.writer is None:
                work = await self._apply(batch)
            else:
                work = await self.writer.run(lambda: self._apply(batch))
        except IntegrityError as exc:
            # Another sink process wrote the same row first; the retry finds it done.
            raise Retry(f"concurrent write: {exc.orig}") from exc
        except OwnerBusy as exc:
            # A merge or an undo holds the client this batch's row moved to: after it.
            raise Retry(str(exc)) from exc
        await self.bus.publish_many([(streams.EVENTS, event) for event in work.events])
        if self.adapter is not None:
            for push in work.pushes:
                await self.adapter.push(push)

    async def _apply(self, batch: Sequence[Delivery[CrmEvent]]) -> CrmWork:
        """The batch's table work, in one transaction: what it leaves to publish and push."""
        async with self.sessions() as session, session.begin():
            hold_entities(session.sync_session)  # each step reads the line, lead… it needs
            work = CrmWork(
                session, self.clock(), self.phone_region, pushing=self.adapter is not None
            )
            for delivery in batch:
                await self._dispatch(work, delivery.payload)
        return work

    async def _dispatch(self, work: CrmWork, event: CrmEvent) -> None:
        if isinstance(event, ClientHintsForCrm):
            await do_hints(work, event)
        elif isinstance(event, DialogOpenedForCrm):
            await do_dialog_opened(work, event)
        elif isinstance(event, DialogClosedForCrm):
            await do_dialog_closed(work, event)
        elif isinstance(event, DialogTransferredForCrm):
            await do_dialog_transferred(work, event)

    async def _gather(self) -> None:
        """Before each read: after one that brought events, let more gather (``gather_s``).
        A quiet sink waits for nothing: its read blocks until an event comes."""
        if self._handled:
            self._handled = False
            # Cut short by a stop: up to ``crm_gather_ms`` (10 s at most) would hold it up.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.bus.stopping.wait(), self.gather_s)

    async def run(self, name: str) -> None:
        """Consume the ``crm`` stream until the bus closes."""
        consumer = self.bus.consumer(
            streams.CRM,
            streams.CRM_GROUP,
            name,
            self.handle,
            CRM_EVENT,
            gate=self._gather if self.gather_s > 0 else None,
        )
        try:
            await consumer.run()
        finally:
            if self.adapter is not None:
                await self.adapter.close()
