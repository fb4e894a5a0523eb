"""Reminders about clients left without an answer: a timer armed by the client's first
unanswered message, cancelled by an operator's answer, reminding the operator and, at the line's
second threshold, its managers, each as an event on the operator socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
import redis.asyncio
from sqlalchemy import select

from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker, make_engine, make_sessionmaker
from core.db.migrate import upgrade
from core.db.schema import Channel, Dialog, Line, LineOperator, Operator
from core.envelope import (
    InboundMessage,
    OperatorReply,
    PresenceChange,
    ReminderEvent,
    RouterInput,
    TimerFired,
    decode,
)
from operator_console.seed import do_seed
from router.intents import reminder_timer
from router.worker import Router

START = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@dataclass
class Scene:
    """The demo line with the admin online on it and a manager of the line."""

    sessions: SessionMaker
    redis: redis.asyncio.Redis
    router: Router
    channel_id: int
    admin_id: int
    manager_id: int
    now: list[datetime] = field(default_factory=lambda: [START])

    async def tell(self, payload: RouterInput) -> None:
        await self.router.handle([Delivery(streams.COMMANDS, "0-1", payload)])

    async def client_says(self, visitor: str, text: str) -> Dialog:
        msg = InboundMessage(
            channel_id=self.channel_id,
            external_user_id=visitor,
            external_message_id=f"{visitor}:{text}",
            text=text,
        )
        await self.router.handle([Delivery(streams.inbound(0), "0-1", msg)])
        async with self.sessions() as session:
            dialog = await session.scalar(select(Dialog).order_by(Dialog.id.desc()))
        assert dialog is not None
        return dialog

    async def pass_time(self, minutes: int) -> None:
        """Move the clock on and hand every timer that came due to the router."""
        self.now[0] += timedelta(minutes=minutes)
        await self.router.timers.fire_due(self.now[0])
        raw = await self.redis.xrange(streams.TIMERS)
        await self.redis.delete(streams.TIMERS)
        for _id, data in cast(list[tuple[bytes, dict[bytes, bytes]]], raw):
            fired = decode(data[b"data"])
            assert isinstance(fired, TimerFired)
            await self.router.handle([Delivery(streams.TIMERS, "0-1", fired)])

    async def reminders(self) -> list[ReminderEvent]:
        raw = await self.redis.xrange(streams.EVENTS)
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], raw)
        events = [decode(data[b"data"]) for _id, data in entries]
        return [e for e in events if isinstance(e, ReminderEvent)]


@pytest.fixture
async def scene(db_url: str, redis_url: str) -> AsyncIterator[Scene]:
    engine = make_engine(db_url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    await do_seed(sessions, "admin", "admin-password-1")
    async with sessions() as session, session.begin():
        channel_id = await session.scalar(select(Channel.id).where(Channel.key == "demo"))
        line = await session.scalar(select(Line).where(Line.key == "demo"))
        admin_id = await session.scalar(select(Operator.id).where(Operator.login == "admin"))
        assert line is not None and channel_id is not None and admin_id is not None
        line.settings = {**(line.settings or {}), "remind_operator_minutes": 3,
                         "remind_manager_minutes": 10}  # fmt: skip
        manager = Operator(login="boss", name="Boss", password_hash="-", role="manager")
        session.add(manager)
        await session.flush()
        session.add(LineOperator(line_id=line.id, operator_id=manager.id, position=99))
        manager_id = manager.id
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.delete(streams.EVENTS, streams.TIMERS, streams.TIMERS_DUE, streams.TIMER_PAYLOADS)
    now = [START]
    router = Router(sessions, Bus(client), lambda: now[0])
    found = Scene(sessions, client, router, channel_id, admin_id, manager_id, now)
    await found.tell(PresenceChange(operator_id=admin_id, status="online"))
    try:
        yield found
    finally:
        await client.aclose()
        await engine.dispose()


async def test_an_unanswered_message_arms_the_reminder_from_the_first_message(
    scene: Scene,
) -> None:
    dialog = await scene.client_says("v1", "hello")
    due = await scene.router.timers.due_at(reminder_timer(dialog.id))
    assert due == START + timedelta(minutes=3)
    scene.now[0] += timedelta(minutes=1)
    await scene.client_says("v1", "anyone?")
    # A second unanswered message does not restart the wait.
    assert await scene.router.timers.due_at(reminder_timer(dialog.id)) == due


async def test_an_answer_cancels_the_reminder(scene: Scene) -> None:
    dialog = await scene.client_says("v2", "hello")
    await scene.tell(
        OperatorReply(dialog_id=dialog.id, operator_id=scene.admin_id, client_msg_id="a", text="hi")
    )
    assert await scene.router.timers.due_at(reminder_timer(dialog.id)) is None
    await scene.pass_time(30)
    assert await scene.reminders() == []


async def test_the_operator_then_the_managers_are_reminded(scene: Scene) -> None:
    dialog = await scene.client_says("v3", "hello")
    assert dialog.operator_id == scene.admin_id
    await scene.pass_time(2)
    assert await scene.reminders() == []
    await scene.pass_time(1)
    [first] = await scene.reminders()
    assert (first.stage, first.recipients, first.dialog_id) == (
        "operator",
        (scene.admin_id,),
        dialog.id,
    )
    assert first.waited_minutes == 3
    assert await scene.router.timers.due_at(reminder_timer(dialog.id)) == START + timedelta(
        minutes=10
    )
    await scene.pass_time(6)
    assert len(await scene.reminders()) == 1
    await scene.pass_time(1)
    second = (await scene.reminders())[-1]
    assert (second.stage, second.recipients, second.waited_minutes) == (
        "manager",
        (scene.manager_id,),
        10,
    )


async def test_an_answer_after_the_first_reminder_spares_the_managers(scene: Scene) -> None:
    dialog = await scene.client_says("v4", "hello")
    await scene.pass_time(3)
    await scene.tell(
        OperatorReply(dialog_id=dialog.id, operator_id=scene.admin_id, client_msg_id="b", text="hi")
    )
    await scene.pass_time(20)
    assert [r.stage for r in await scene.reminders()] == ["operator"]
