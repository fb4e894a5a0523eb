"""The sink's client locks on PostgreSQL hold up merges and the sink, not the router.

The router stores dialogs and messages of clients the sink may hold at that moment. Each such
row's foreign-key check takes a key-share lock on the client; a lock of the sink that stopped it
made the router wait for the sink's commit, and made the two meet in a deadlock when the sink
then waited for the router.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from core import streams
from core.db.schema import Dialog
from core.envelope import CloseDialog
from crm_sink.locks import lock_clients
from tests.support.crmhub import crm_hub

WAIT_S = 10.0
"""Far above what routing one message takes; a router held by the lock would wait it out."""


async def test_a_client_the_sink_holds_does_not_hold_up_the_router(
    postgres_url: str, redis_url: str
) -> None:
    async with crm_hub(postgres_url, redis_url) as hub:
        await hub.say("telegram", "tg-1", "first")
        await hub.drain()
        async with hub.session() as s:
            first = await s.scalar(select(Dialog))
        assert first is not None
        await hub.publish(streams.COMMANDS, CloseDialog(dialog_id=first.id, operator_id=None))
        await hub.drain()

        async def lock_in_turn() -> None:
            async with hub.session() as other, other.begin():
                await lock_clients(other, [first.client_id])

        async with hub.session() as held, held.begin():
            await lock_clients(held, [first.client_id])
            # The client writes again: a new dialog of theirs, and its message counted.
            await hub.say("telegram", "tg-1", "again")
            await asyncio.wait_for(hub.route(), WAIT_S)
            async with hub.session() as s:
                dialogs = list(await s.scalars(select(Dialog).order_by(Dialog.id)))
            assert [(d.client_id, d.client_messages) for d in dialogs] == [
                (first.client_id, 1),
                (first.client_id, 1),
            ]
            assert dialogs[1].status != "closed"
            # Another of the sink's transactions (or a merge) still takes its turn.
            second = asyncio.create_task(lock_in_turn())
            await asyncio.sleep(0.5)
            assert not second.done(), "a second lock of the client went through"
        await asyncio.wait_for(second, WAIT_S)
