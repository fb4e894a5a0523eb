"""Presence that tells the truth: when an operator's last console socket has been gone for the
grace period, the presence timer takes them offline and their pending offer passes on; a
console that reconnects within the grace keeps them online.

The timer goes the real way: armed in Redis, fired onto a stream, parsed and handed to the
router, which counts the live sockets in Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio
from sqlalchemy import select

from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker, make_engine, make_sessionmaker
from core.db.migrate import upgrade
from core.db.routing_schema import DialogOffer
from core.db.schema import Channel, Line, LineOperator, Operator
from core.envelope import (
    DialogEvent,
    InboundMessage,
    PresenceChange,
    PresenceEvent,
    RouterInput,
    TakeOffer,
)
from core.presence import ConsoleSockets, arm_auto_away, arm_grace, status_after_grace
from core.timers import Timers
from operator_console.seed import do_seed
from router.worker import ROUTER_INPUT, Router

START = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=60)
TTL = timedelta(seconds=60)
FIRED = "timers-fired-test"


@dataclass
class Desk:
    """A sequential demo line with Alice first and Bob second, both online, and a dialog
    offered to Alice; Alice's console has one socket open."""

    sessions: SessionMaker
    redis: redis.asyncio.Redis
    router: Router
    sockets: ConsoleSockets
    timers: Timers
    ids: dict[str, int]
    clock: list[datetime]

    async def fire_presence_timer(self, at: datetime) -> None:
        """Fire every timer due at ``at`` onto the test stream and hand them to the router."""
        self.clock[0] = at
        assert await self.timers.fire_due(at) == 1
        entries: Any = await self.redis.xrange(FIRED)
        await self.redis.delete(FIRED)
        batch = [
            Delivery(FIRED, entry_id.decode(), ROUTER_INPUT.validate_json(fields[b"data"]))
            for entry_id, fields in entries
        ]
        await self.router.handle(batch)

    async def offers(self) -> list[tuple[int, str]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(DialogOffer.operator_id, DialogOffer.state).order_by(DialogOffer.id)
            )
            return [(op, state) for op, state in rows]

    async def status(self, login: str) -> str:
        async with self.sessions() as session:
            operator = await session.get(Operator, self.ids[login])
            assert operator is not None
            return operator.status


def command(payload: RouterInput, n: int = 1) -> Delivery[RouterInput]:
    return Delivery(streams.COMMANDS, f"0-{n}", payload)


@pytest.fixture
async def desk(sqlite_url: str, redis_url: str) -> AsyncIterator[Desk]:
    engine = make_engine(sqlite_url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    await do_seed(sessions, "admin", "admin-password-1")
    async with sessions() as session, session.begin():
        channel_id = await session.scalar(select(Channel.id).where(Channel.key == "demo"))
        line = await session.scalar(select(Line).where(Line.key == "demo"))
        assert line is not None and channel_id is not None
        line.distribution = "sequence"
        line.settings = {"offer_seconds": 600}
        people = [Operator(login=n, name=n.title(), password_hash="-") for n in ("alice", "bob")]
        session.add_all(people)
        await session.flush()
        for position, op in enumerate(people, start=1):
            session.add(LineOperator(line_id=line.id, operator_id=op.id, position=position))
        ids = {op.login: op.id for op in people}
    client = redis.asyncio.Redis.from_url(redis_url)
    clock = [START]
    router = Router(sessions, Bus(client), lambda: clock[0])
    desk = Desk(
        sessions, client, router, ConsoleSockets(client, TTL), Timers(client, FIRED), ids, clock
    )
    try:
        for n, login in enumerate(("alice", "bob"), start=1):
            online = PresenceChange(operator_id=ids[login], status="online")
            await router.handle([command(online, n)])
        await desk.sockets.touch(ids["alice"], "alice-tab", START)
        question = InboundMessage(
            channel_id=channel_id, external_user_id="v1", external_message_id="m1", text="hi?"
        )
        await router.handle([Delivery(streams.inbound(0), "0-1", question)])
        assert await desk.offers() == [(ids["alice"], "pending")]
        yield desk
    finally:
        await client.aclose()
        await engine.dispose()


async def test_the_grace_ending_takes_a_gone_operator_offline_and_hands_the_offer_on(
    desk: Desk,
) -> None:
    alice, bob = desk.ids["alice"], desk.ids["bob"]
    closed_at = START + timedelta(seconds=5)
    assert await desk.sockets.release(alice, "alice-tab", closed_at) == 0
    await arm_grace(desk.timers, alice, closed_at + GRACE)
    # Not yet due a moment before the grace ends.
    assert await desk.timers.fire_due(closed_at + GRACE - timedelta(seconds=1)) == 0
    assert await desk.status("alice") == "online"

    await desk.fire_presence_timer(closed_at + GRACE)

    assert await desk.status("alice") == "offline"
    assert await desk.offers() == [(alice, "withdrawn"), (bob, "pending")]


async def test_a_console_back_within_the_grace_keeps_the_operator_online(desk: Desk) -> None:
    alice = desk.ids["alice"]
    closed_at = START + timedelta(seconds=5)
    await desk.sockets.release(alice, "alice-tab", closed_at)
    await arm_grace(desk.timers, alice, closed_at + GRACE)
    # A reload: the new socket connects 2 s later.
    assert await desk.sockets.touch(alice, "alice-new-tab", closed_at + timedelta(seconds=2)) == 1

    await desk.fire_presence_timer(closed_at + GRACE)

    assert await desk.status("alice") == "online"
    assert await desk.offers() == [(alice, "pending")]


async def test_a_console_that_died_without_closing_its_socket_expires_after_the_ttl(
    desk: Desk,
) -> None:
    alice, bob = desk.ids["alice"], desk.ids["bob"]
    # The console's last heartbeat at START armed the timer past the socket's expiry.
    await arm_grace(desk.timers, alice, START + TTL + GRACE)
    assert await desk.sockets.live(alice, START + TTL - timedelta(seconds=1)) == 1

    await desk.fire_presence_timer(START + TTL + GRACE)

    assert await desk.status("alice") == "offline"
    assert await desk.offers() == [(alice, "withdrawn"), (bob, "pending")]


async def test_going_offline_tells_the_operators_own_consoles(desk: Desk) -> None:
    alice = desk.ids["alice"]
    before: Any = await desk.redis.xrevrange(streams.EVENTS, count=1)
    last = before[0][0] if before else b"0-0"
    await desk.sockets.release(alice, "alice-tab", START)
    await arm_grace(desk.timers, alice, START + GRACE)
    await desk.fire_presence_timer(START + GRACE)
    entries: Any = await desk.redis.xrange(streams.EVENTS, f"({last.decode()}", "+")
    told = [
        PresenceEvent.model_validate_json(fields[b"data"])
        for _id, fields in entries
        if b'"event.presence"' in fields[b"data"]
    ]
    assert [(e.operator_id, e.status, e.recipients) for e in told] == [(alice, "offline", (alice,))]


def test_the_grace_decision_only_ever_goes_to_offline_with_no_socket_left() -> None:
    assert status_after_grace("online", 0) == "offline"
    assert status_after_grace("away", 0) == "offline"
    assert status_after_grace("online", 1) is None
    assert status_after_grace("offline", 0) is None


async def test_auto_away_makes_an_idle_operator_away_and_passes_the_offer_on(desk: Desk) -> None:
    alice, bob = desk.ids["alice"], desk.ids["bob"]
    await arm_auto_away(desk.timers, alice, START + timedelta(minutes=3))

    await desk.fire_presence_timer(START + timedelta(minutes=3))

    assert await desk.status("alice") == "away"
    assert await desk.offers() == [(alice, "withdrawn"), (bob, "pending")]


async def test_a_take_tells_the_colleagues_who_no_longer_see_the_dialog(desk: Desk) -> None:
    alice, bob = desk.ids["alice"], desk.ids["bob"]
    async with desk.sessions() as session:
        dialog_id = await session.scalar(select(DialogOffer.dialog_id))
    assert dialog_id is not None
    before: Any = await desk.redis.xrevrange(streams.EVENTS, count=1)
    await desk.router.handle([command(TakeOffer(dialog_id=dialog_id, operator_id=alice), 9)])
    entries: Any = await desk.redis.xrange(streams.EVENTS, f"({before[0][0].decode()}", "+")
    told = [
        DialogEvent.model_validate_json(fields[b"data"])
        for _id, fields in entries
        if b'"event.dialog"' in fields[b"data"]
    ]
    # Bob saw it waiting on the line; the event that it is Alice's reaches him, marked as gone.
    assert told and told[-1].dialog.operator_id == alice
    assert bob in told[-1].recipients and told[-1].leaving == (bob,)
