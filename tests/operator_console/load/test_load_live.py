"""The live load over the console socket: a new waiting client reaches the supervisors'
``load`` frames without asking, each manager sees their own lines, and a burst of changes is
sent at most once a second."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import delete

from core.db import SessionMaker
from core.db.schema import LineOperator
from tests.support.console_world import World, logged_in
from tests.support.hubclient import OperatorClient, VisitorClient

pytestmark = [
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]


async def _load_where(
    client: OperatorClient, line_id: int, waiting: int, seen: list[datetime] | None = None
) -> dict[str, Any]:
    """The next load frame in which ``line_id`` has ``waiting`` clients; ``seen`` collects
    when each load frame was read."""
    async with asyncio.timeout(10):
        while True:
            frame = await client.receive()
            if frame["type"] != "load":
                continue
            if seen is not None:
                seen.append(datetime.fromisoformat(frame["at"]))
            lines = {q["id"]: q for q in frame["lines"]}
            if line_id in lines and lines[line_id]["waiting"] == waiting:
                return frame


async def test_new_waiting_clients_change_the_pushed_load(
    hub: str, db: SessionMaker, world: World
) -> None:
    # Nobody online on the demo line: its clients wait.
    async with db() as s, s.begin():
        await s.execute(delete(LineOperator).where(LineOperator.operator_id == 1))
    admin, mara = await logged_in(hub, "admin"), await logged_in(hub, "mara")
    visitors = [VisitorClient(hub) for _ in range(6)]
    try:
        await admin.open_socket()
        await mara.open_socket()
        await visitors[0].connect()
        await visitors[0].say("Is anyone there?")
        frame = await _load_where(admin, world.demo_line, waiting=1)
        demo = next(q for q in frame["lines"] if q["id"] == world.demo_line)
        assert demo["oldest_wait_s"] is not None and demo["long_waits"] == 0
        # The manager's frames carry her line only.
        mine = await mara.receive_until("load")
        assert [q["id"] for q in mine["lines"]] == [world.sales_line]

        seen: list[datetime] = []
        for visitor in visitors[1:]:
            await visitor.connect()
            await visitor.say("Hello")
        await _load_where(admin, world.demo_line, waiting=6, seen=seen)
        # Each frame was read at least a second after the one before.
        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(seen)]
        assert all(gap >= 1 for gap in gaps), gaps
    finally:
        for operator in (admin, mara):
            await operator.close()
        for visitor in visitors:
            await visitor.close()
