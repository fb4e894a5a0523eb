"""The running CRM sink lets events gather after a read that brought some: the events that come
meanwhile are written together, in one transaction (``CrmSink.gather_s``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from sqlalchemy import func, select

from core.db.crm_schema import CrmLead
from core.delivery import Delivery
from core.envelope import CrmEvent
from tests.support.crmhub import CrmHub, crm_hub

WAIT_S = 30.0
"""Generous bound on each wait: a sink that never handles the events fails, slowly."""


async def _leads(hub: CrmHub) -> int:
    async with hub.session() as session:
        return int(await session.scalar(select(func.count()).select_from(CrmLead)) or 0)


async def _until_leads(hub: CrmHub, wanted: int) -> None:
    async with asyncio.timeout(WAIT_S):
        while await _leads(hub) < wanted:
            await asyncio.sleep(0.02)


async def test_events_that_come_while_the_sink_gathers_go_in_one_batch(
    sqlite_url: str, redis_url: str
) -> None:
    async with crm_hub(sqlite_url, redis_url) as hub:
        batches: list[int] = []
        handle = hub.sink.handle

        async def counted(batch: Sequence[Delivery[CrmEvent]]) -> None:
            batches.append(len(batch))
            await handle(batch)

        hub.sink.handle = counted  # type: ignore[method-assign]
        # Longer than the test takes to route three clients: they all come in the window.
        hub.sink.gather_s = 5.0
        sink = asyncio.create_task(hub.sink.run("sink"))
        try:
            await hub.say("telegram", "ann")
            await hub.route()
            # The first event is written at once, long before a window would have ended.
            async with asyncio.timeout(hub.sink.gather_s - 1):
                await _until_leads(hub, 1)
            assert batches == [1]
            for user in ("bob", "cid", "dan"):  # routed one by one: three reads' worth
                await hub.say("telegram", user)
                await hub.route()
                await asyncio.sleep(0.05)
            await _until_leads(hub, 4)
            # The three new clients' leads in one transaction, after the window.
            assert batches == [1, 3]
        finally:
            hub.bus.close()
            sink.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sink


async def test_a_stop_cuts_the_sinks_gathering_short(sqlite_url: str, redis_url: str) -> None:
    async with crm_hub(sqlite_url, redis_url) as hub:
        hub.sink.gather_s = 600.0  # a stop that waited the window out would fail the test
        sink = asyncio.create_task(hub.sink.run("sink"))
        try:
            await hub.say("telegram", "ann")
            await hub.route()
            await _until_leads(hub, 1)  # handled: the sink now gathers
            hub.bus.close()
            await asyncio.wait_for(sink, WAIT_S)
        finally:
            sink.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sink
