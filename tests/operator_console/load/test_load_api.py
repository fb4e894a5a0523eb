"""GET /api/stats/load: the live load as each role may see it, with load and capacity counted
the router's way and long waits by each line's threshold."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, update

from core.db import SessionMaker
from core.db.schema import Line, LineOperator, Operator
from core.envelope import utcnow
from operator_console.auth import hash_password
from operator_console.load import read_load
from operator_console.stats.scope import EVERYTHING
from tests.support.console_world import World, add_dialog, logged_in
from tests.support.querycount import count_queries
from tests.support.router_db import seeded_database

REDIS_7 = pytest.mark.parametrize("redis_server", ["7"], indirect=True)


async def _busy_sales(db: SessionMaker, world: World) -> None:
    """Sales: petr holds one open dialog (limit 3 on the line, 2 in all); two clients wait,
    one for ten minutes (past the line's 60 s threshold), one for ten seconds. Demo: a client
    has waited five minutes (past the default 120 s), and the admin is off its queue so that
    signing in does not give them that client. An analyst signs in; Otto is in no queue yet,
    Gone is disabled."""
    now = utcnow()
    async with db() as s, s.begin():
        await s.execute(delete(LineOperator).where(LineOperator.operator_id == 1))
        await s.execute(
            update(Line)
            .where(Line.id == world.sales_line)
            .values(settings={"long_wait_seconds": 60, "max_per_operator": 3})
        )
        await s.execute(
            update(Operator).where(Operator.id == world.ids["petr"]).values(max_open_dialogs=2)
        )
        await s.execute(
            update(LineOperator)
            .where(LineOperator.operator_id == world.ids["olga"])
            .values(max_open_dialogs=4)
        )
        s.add(
            Operator(login="ana", name="Ana", role="analyst", password_hash=hash_password("pw-ana"))
        )
        s.add(Operator(login="otto", name="Otto", role="operator", password_hash="x"))
        s.add(Operator(login="gone", name="Gone", role="operator", password_hash="disabled:x"))
    tg = world.ids["sales_tg"]
    await add_dialog(db, tg, world.sales_line, "Held", ["hi"], operator_id=world.ids["petr"])
    await add_dialog(
        db,
        tg,
        world.sales_line,
        "Long Waiter",
        ["hello?"],
        operator_id=None,
        status="waiting",
        at=now - timedelta(minutes=10),
    )
    await add_dialog(
        db,
        tg,
        world.sales_line,
        "New Waiter",
        ["hi"],
        operator_id=None,
        status="waiting",
        at=now - timedelta(seconds=10),
    )
    await add_dialog(
        db,
        1,
        world.demo_line,
        "Demo Waiter",
        ["hi"],
        operator_id=None,
        status="waiting",
        at=now - timedelta(minutes=5),
    )


async def _load(hub: str, login: str) -> tuple[int, Any]:
    client = await logged_in(hub, login)
    try:
        return await client.call("GET", "/api/stats/load")
    finally:
        await client.close()


@REDIS_7
async def test_an_admin_sees_every_line_and_operator_with_load_capacity_and_long_waits(
    hub: str, db: SessionMaker, world: World
) -> None:
    await _busy_sales(db, world)
    status, load = await _load(hub, "admin")
    assert status == 200
    lines = {q["id"]: q for q in load["lines"]}
    assert set(lines) == {world.demo_line, world.sales_line}
    sales = lines[world.sales_line]
    assert (sales["waiting"], sales["long_waits"], sales["long_wait_s"]) == (2, 1, 60)
    assert 595 <= sales["oldest_wait_s"] <= 660
    assert [w["client_name"] for w in sales["longest"]] == ["Long Waiter"]
    demo = lines[world.demo_line]
    assert (demo["waiting"], demo["long_waits"], demo["long_wait_s"]) == (1, 1, 120)

    people = {op["name"]: op for op in load["operators"]}
    assert set(people) == {"Olga", "Petr", "Mara", "Otto"}
    assert (people["Otto"]["capacity"], people["Otto"]["lines"]) == (None, [])
    petr = people["Petr"]
    # Three on the line, but two in all: the router stops at two.
    assert (petr["open"], petr["load"], petr["offers"], petr["capacity"]) == (1, 1, 0, 2)
    assert petr["lines"] == [{"line_id": world.sales_line, "load": 1, "capacity": 3}]
    olga = people["Olga"]
    assert (olga["open"], olga["capacity"], olga["status"]) == (1, 4, "offline")
    # The manager is in the queue too: the line's limit is hers.
    assert people["Mara"]["capacity"] == 3


@REDIS_7
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_analysts_see_what_admins_see_managers_their_lines_and_operators_nothing(
    hub: str, db: SessionMaker, world: World
) -> None:
    await _busy_sales(db, world)
    assert await _steady(hub, "ana") == await _steady(hub, "admin")
    status, load = await _load(hub, "mara")
    assert status == 200
    assert [q["id"] for q in load["lines"]] == [world.sales_line]
    assert {op["id"] for op in load["operators"]} == {world.ids["petr"], world.ids["mara"]}
    status, body = await _load(hub, "olga")
    assert status == 403 and "admins, analysts and managers" in body["error"]


async def test_the_load_costs_the_same_statements_however_many_dialogs_wait(
    sqlite_url: str,
) -> None:
    engine, sessions = await seeded_database(sqlite_url)
    try:
        async with sessions() as session:
            with count_queries(engine) as few:
                await read_load(session, utcnow(), EVERYTHING)
        for n in range(5):
            await add_dialog(
                sessions,
                1,
                1,
                f"Client {n}",
                ["hi"],
                operator_id=None,
                status="waiting",
                at=utcnow() - timedelta(minutes=n, seconds=30),
            )
        await add_dialog(sessions, 1, 1, "Held", ["hi"], operator_id=1)
        async with sessions() as session:
            with count_queries(engine) as many:
                load = await read_load(session, utcnow(), EVERYTHING)
    finally:
        await engine.dispose()
    (demo,) = load.lines
    assert (demo.waiting, demo.long_waits, len(demo.longest)) == (5, 3, 3)
    assert [(op.id, op.open) for op in load.operators] == [(1, 1)]
    assert len(many) == len(few) == 8, many.report()


async def _steady(hub: str, login: str) -> tuple[int, Any]:
    """The load without what changes by the second."""
    status, load = await _load(hub, login)
    for line in load["lines"]:
        line.pop("oldest_wait_s")
        for wait in line["longest"]:
            wait.pop("waited_s")
    return status, {**load, "at": None}
