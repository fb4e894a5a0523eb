"""Delivery reports reach the router as envelopes on the command stream: it records them on the
message (never moving a status back) and tells everyone who sees the dialog, invited
colleagues included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import pytest
import redis.asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker
from core.db.schema import Channel, Dialog, Message, Operator
from core.envelope import (
    DeliveryChange,
    DeliveryEvent,
    DeliveryOutcome,
    DeliveryOutcomes,
    DeliveryReceipt,
    InboundMessage,
    InviteColleague,
    OperatorReply,
    PresenceChange,
    decode,
)
from router.worker import Router
from tests.support.querycount import count_queries
from tests.support.router_db import command, seeded_database


@dataclass
class Scene:
    """A dialog held by the admin, a colleague invited into it, an operator who is not, and
    the admin's reply in it."""

    sessions: SessionMaker
    redis: redis.asyncio.Redis
    router: Router
    channel_id: int
    message_id: int
    colleague_id: int
    outsider_id: int
    engine: AsyncEngine


@pytest.fixture
async def scene(db_url: str, redis_url: str) -> AsyncIterator[Scene]:
    engine, sessions = await seeded_database(db_url)
    async with sessions() as session, session.begin():
        channel_id = await session.scalar(select(Channel.id).where(Channel.key == "demo"))
        admin_id = await session.scalar(select(Operator.id).where(Operator.login == "admin"))
        colleague = Operator(login="colleague", name="Colleague", password_hash="-")
        outsider = Operator(login="outsider", name="Outsider", password_hash="-")
        session.add_all([colleague, outsider])
        await session.flush()
        colleague_id, outsider_id = colleague.id, outsider.id
    assert channel_id is not None and admin_id is not None
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.delete(streams.EVENTS)
    clock = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    router = Router(sessions, Bus(client), lambda: clock)
    await router.handle([command(PresenceChange(operator_id=admin_id, status="online"))])
    hello = InboundMessage(
        channel_id=channel_id, external_user_id="visitor", external_message_id="m-1", text="hi"
    )
    await router.handle([Delivery(streams.inbound(0), "0-1", hello)])
    async with sessions() as session:
        dialog = await session.scalar(select(Dialog))
    assert dialog is not None and dialog.operator_id == admin_id
    invite = InviteColleague(dialog_id=dialog.id, operator_id=admin_id, colleague_id=colleague_id)
    reply = OperatorReply(dialog_id=dialog.id, operator_id=admin_id, client_msg_id="r1", text="ok")
    await router.handle([command(invite), command(reply)])
    async with sessions() as session:
        message_id = await session.scalar(select(Message.id).where(Message.client_msg_id == "r1"))
    assert message_id is not None
    try:
        yield Scene(
            sessions, client, router, channel_id, message_id, colleague_id, outsider_id, engine
        )
    finally:
        await client.aclose()
        await engine.dispose()


async def status_events(scene: Scene) -> list[DeliveryChange]:
    """The announced delivery statuses of the reply, in order, from the events that carried
    them."""
    raw = await scene.redis.xrange(streams.EVENTS)
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], raw)
    events = [decode(data[b"data"]) for _id, data in entries]
    return [
        change
        for e in events
        if isinstance(e, DeliveryEvent)
        for change in e.changes
        if change.id == scene.message_id
    ]


async def stored(scene: Scene) -> Message:
    async with scene.sessions() as session:
        message = await session.get(Message, scene.message_id)
    assert message is not None
    return message


async def test_an_invited_colleague_is_told_the_delivery_status(scene: Scene) -> None:
    sent = DeliveryOutcome(message_id=scene.message_id, status="sent", external_id="p-77")
    await scene.router.handle([command(sent)])
    [event] = await status_events(scene)
    assert event.delivery_status == "sent"
    assert scene.colleague_id in event.recipients
    assert scene.outsider_id not in event.recipients
    message = await stored(scene)
    assert (message.delivery_status, message.external_id) == ("sent", "p-77")


async def test_a_stale_receipt_does_not_move_a_seen_message_back(scene: Scene) -> None:
    sent = DeliveryOutcome(message_id=scene.message_id, status="sent", external_id="p-77")
    seen = DeliveryReceipt(channel_id=scene.channel_id, external_id="p-77", status="seen")
    late = DeliveryReceipt(channel_id=scene.channel_id, external_id="p-77", status="delivered")
    await scene.router.handle([command(sent), command(seen)])
    await scene.router.handle([command(late)])
    assert (await stored(scene)).delivery_status == "seen"
    statuses = [e.delivery_status for e in await status_events(scene)]
    assert statuses == ["sent", "seen"]
    assert all(scene.colleague_id in e.recipients for e in await status_events(scene))


async def test_a_failure_carries_its_reason(scene: Scene) -> None:
    failed = DeliveryOutcome(message_id=scene.message_id, status="failed", error="blocked")
    await scene.router.handle([command(failed)])
    message = await stored(scene)
    assert (message.delivery_status, message.delivery_error) == ("failed", "blocked")
    [event] = await status_events(scene)
    assert event.delivery_error == "blocked"


async def test_a_run_of_outcomes_announces_each_change_in_order_for_one_outcomes_statements(
    scene: Scene,
) -> None:
    with count_queries(scene.engine) as alone:
        await scene.router.handle([command(DeliveryOutcome(message_id=0, status="sent"))])
    assert not await status_events(scene)  # an unknown message: nothing to announce
    run = [
        DeliveryOutcome(message_id=scene.message_id, status="sent", external_id="p-77"),
        DeliveryOutcome(message_id=0, status="delivered"),
        DeliveryOutcome(message_id=scene.message_id, status="delivered"),
        DeliveryOutcome(message_id=scene.message_id, status="sent"),  # late: changes nothing
        DeliveryOutcome(message_id=scene.message_id, status="seen"),
    ]
    with count_queries(scene.engine) as seen:
        await scene.router.handle([command(outcome) for outcome in run])
    events = await status_events(scene)
    assert [e.delivery_status for e in events] == ["sent", "delivered", "seen"]
    assert all(scene.colleague_id in e.recipients for e in events)
    assert all(scene.outsider_id not in e.recipients for e in events)
    message = await stored(scene)
    assert (message.delivery_status, message.external_id) == ("seen", "p-77")
    # Read and written set-wise: the run costs what reading one outcome's message costs, plus
    # one UPDATE and the reads of the dialog and of who sees it.
    assert len(seen) == len(alone) + 4, seen.report()


async def test_the_outcomes_of_one_entry_are_recorded_in_order_with_the_others(
    scene: Scene,
) -> None:
    """A ``DeliveryOutcomes`` entry counts as its outcomes, each in its place: between entries
    of single outcomes, and after the batch's other inputs, as single outcomes are."""
    together = DeliveryOutcomes(
        outcomes=(
            DeliveryOutcome(message_id=0, status="delivered"),
            DeliveryOutcome(message_id=scene.message_id, status="delivered"),
            DeliveryOutcome(message_id=scene.message_id, status="sent"),  # late: changes nothing
        )
    )
    first = DeliveryOutcome(message_id=scene.message_id, status="sent", external_id="p-77")
    last = DeliveryOutcome(message_id=scene.message_id, status="seen")
    with count_queries(scene.engine) as statements:
        await scene.router.handle([command(first), command(together), command(last)])
    events = await status_events(scene)
    assert [e.delivery_status for e in events] == ["sent", "delivered", "seen"]
    assert all(scene.colleague_id in e.recipients for e in events)
    message = await stored(scene)
    assert (message.delivery_status, message.external_id) == ("seen", "p-77")
    # One run with the single outcomes around it: one read of the messages, one write.
    writes = [s for s in statements if s.lstrip().startswith("UPDATE messages")]
    assert len(writes) == 1, statements.report()


async def test_the_statuses_of_a_batch_go_in_one_event_each_to_who_sees_its_dialog(
    scene: Scene,
) -> None:
    """A second dialog of the admin's, with nobody invited: the replies' statuses of both
    dialogs are one event, and the colleague is among the recipients of the first only."""
    hello = InboundMessage(
        channel_id=scene.channel_id, external_user_id="other", external_message_id="m-2", text="?"
    )
    await scene.router.handle([Delivery(streams.inbound(0), "0-2", hello)])
    async with scene.sessions() as session:
        other = await session.scalar(select(Dialog).where(Dialog.id != await first_dialog(scene)))
    assert other is not None and other.operator_id is not None
    answer = OperatorReply(
        dialog_id=other.id, operator_id=other.operator_id, client_msg_id="r2", text="yes"
    )
    await scene.router.handle([command(answer)])
    async with scene.sessions() as session:
        answer_id = await session.scalar(select(Message.id).where(Message.client_msg_id == "r2"))
    assert answer_id is not None
    await scene.redis.delete(streams.EVENTS)

    both = DeliveryOutcomes(
        outcomes=(
            DeliveryOutcome(message_id=scene.message_id, status="sent"),
            DeliveryOutcome(message_id=answer_id, status="failed", error="blocked"),
        )
    )
    await scene.router.handle([command(both)])

    raw = await scene.redis.xrange(streams.EVENTS)
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], raw)
    [event] = [decode(data[b"data"]) for _id, data in entries]
    assert isinstance(event, DeliveryEvent)
    first, second = event.changes
    assert (first.id, first.delivery_status) == (scene.message_id, "sent")
    assert (second.id, second.dialog_id) == (answer_id, other.id)
    assert (second.delivery_status, second.delivery_error) == ("failed", "blocked")
    assert scene.colleague_id in first.recipients
    assert scene.colleague_id not in second.recipients
    assert event.seen_by(scene.colleague_id) == (first,)
    assert other.operator_id in event.recipients


async def first_dialog(scene: Scene) -> int:
    async with scene.sessions() as session:
        dialog_id = await session.scalar(
            select(Message.dialog_id).where(Message.id == scene.message_id)
        )
    assert dialog_id is not None
    return dialog_id
