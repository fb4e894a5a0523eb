"""The simulator and the live router make the same assignments on the same inputs.

The router runs for real on a database and Redis; the simulator reads the same period and the
same line back from that database and replays it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio
from sqlalchemy import delete, select

from core import streams
from core.bus import Bus, Delivery
from core.db.schema import Channel, Dialog, Line, LineOperator, Operator
from core.envelope import InboundMessage, PresenceChange, RouterInput
from router.worker import Router
from simulator import Behaviour, Behaviours, replay
from simulator.history import current_form, group_members, recorded_arrivals
from simulator.setups import build_setup
from tests.support.router_db import seeded_database

START = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)  # a Monday noon
CAPACITIES = (1, 2, 1)
BUSY = Behaviours(pooled=Behaviour((3600.0,), (3600.0,), (86_400.0,)))
"""Nobody takes an offer, answers or closes within the period: only the distribution counts."""


@pytest.mark.parametrize("redis_server", ["7"], indirect=True)
@pytest.mark.parametrize("mode", ["evenly", "all"])
async def test_the_simulator_gives_each_dialog_to_whom_the_router_gave_it(
    sqlite_url: str, redis_url: str, mode: str
) -> None:
    engine, sessions = await seeded_database(sqlite_url)
    client = redis.asyncio.Redis.from_url(redis_url)
    now = [START]
    clock: Callable[[], datetime] = lambda: now[0]  # noqa: E731
    router = Router(sessions, Bus(client), clock)
    try:
        async with sessions() as s, s.begin():
            line = await s.scalar(select(Line).where(Line.key == "demo"))
            channel_id = await s.scalar(select(Channel.id).where(Channel.key == "demo"))
            assert line is not None and channel_id is not None
            line.distribution = mode
            await s.execute(delete(LineOperator).where(LineOperator.line_id == line.id))
            people = [Operator(login=f"op{n}", name=f"Op {n}", password_hash="x") for n in range(3)]
            s.add_all(people)
            await s.flush()
            for position, (op, cap) in enumerate(zip(people, CAPACITIES, strict=True)):
                s.add(
                    LineOperator(
                        line_id=line.id, operator_id=op.id, position=position, max_open_dialogs=cap
                    )
                )
            ids = [op.id for op in people]
        online: list[Delivery[RouterInput]] = [
            Delivery(streams.COMMANDS, f"p{op}", PresenceChange(operator_id=op, status="online"))
            for op in ids
        ]
        await router.handle(online)
        for n in range(6):
            now[0] = START + timedelta(seconds=30 * n)
            msg = InboundMessage(
                channel_id=channel_id,
                external_user_id=f"visitor-{n}",
                external_message_id=f"m-{n}",
                client_msg_id=f"c{n}",
                text="hello",
                echo=True,
            )
            batch: list[Delivery[RouterInput]] = [Delivery(streams.inbound(0), f"{n}-0", msg)]
            await router.handle(batch)
        async with sessions() as s:
            live = {
                d.id: d.operator_id
                for d in await s.scalars(select(Dialog).where(Dialog.line_id == line.id))
            }
            live_offers = {d.id: d.offer_round for d in await s.scalars(select(Dialog))}
            line = await s.get(Line, line.id)
            assert line is not None
            form = await current_form(s, line)
            setup = build_setup(line.id, form, await group_members(s))
            arrivals = await recorded_arrivals(s, line.id, START, START + timedelta(hours=1))
    finally:
        await client.aclose()
        await engine.dispose()
    run = replay(setup, arrivals, BUSY, 1, START + timedelta(minutes=30))
    simulated = {n: d.operator_id for n, d in run.dialogs.items()}
    assert len(live) == 6
    if mode == "evenly":
        assert simulated == live
        assert sorted(o for o in live.values() if o is not None) == sorted(
            [ids[0], ids[1], ids[1], ids[2]]
        )
    else:
        # Offered to everyone with room, taken by nobody yet: no operator on either side.
        assert set(live.values()) == set(simulated.values()) == {None}
        assert run.events["offer"] == sum(1 for r in live_offers.values() if r > 0)
    assert run_zone_ok(setup.policy.schedule)


def run_zone_ok(schedule: object) -> bool:
    """The demo line is always open, so the replay never held a dialog for working hours."""
    return schedule is None or isinstance(getattr(schedule, "zone", None), ZoneInfo)
