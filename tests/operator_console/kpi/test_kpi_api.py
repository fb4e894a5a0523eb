"""The KPI API through a whole hub: who reads which rows, who sets which plans, the board's
plan against fact, the points rating, and 400s that name the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.db import SessionMaker
from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.hubclient import OperatorClient
from tests.support.kpi_world import PASSWORD, KpiWorld, expected_facts, seed_kpi_world

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]

WEEK = "period=week&date=2026-03-05"


@pytest.fixture
async def world(db: SessionMaker) -> KpiWorld:
    return await seed_kpi_world(db, seed=3)


@pytest.fixture
async def people(hub: str, world: KpiWorld) -> AsyncIterator[dict[str, OperatorClient]]:
    clients: dict[str, OperatorClient] = {}
    for login in ("admin", "mara", "olga", "ada"):
        clients[login] = OperatorClient(hub)
        await clients[login].login(login, ADMIN_PASSWORD if login == "admin" else PASSWORD)
    yield clients
    for client in clients.values():
        await client.close()


async def put_plan(client: OperatorClient, **body: Any) -> tuple[int, Any]:
    return await client.call("PUT", "/api/kpi/plans", {"period": "week", **body})


async def board_rows(client: OperatorClient) -> dict[str, dict[str, Any]]:
    status, body = await client.call("GET", f"/api/kpi/board?{WEEK}")
    assert status == 200, body
    assert body["period"] == {"kind": "week", "first": "2026-03-02", "last": "2026-03-08"}
    return {row["name"].lower(): row for row in body["rows"]}


async def test_plans_by_role_and_the_board_of_each_role(
    people: dict[str, OperatorClient], world: KpiWorld
) -> None:
    admin, mara, olga, ada = (people[k] for k in ("admin", "mara", "olga", "ada"))
    ids = world.ids
    assert (await put_plan(admin, kind="dialogs", target=5, group_id=ids["north"]))[0] == 200
    assert (await put_plan(admin, kind="missed", target=0, operator_id=ids["petr"]))[0] == 200
    # Mara manages group north: its plans and its other members' are hers to set.
    status, answer = await put_plan(mara, kind="dialogs", target=1, operator_id=ids["olga"])
    assert status == 200 and answer["plan"]["editable"] is True, answer
    assert (await put_plan(mara, kind="crm_points", target=3, group_id=ids["north"]))[0] == 200
    for body in (
        {"operator_id": ids["petr"]},
        {"group_id": ids["south"]},
        {"operator_id": ids["mara"]},
    ):
        status, answer = await put_plan(mara, kind="dialogs", target=9, **body)
        assert status == 403, (body, answer)
    for reader in (olga, ada):
        assert (await put_plan(reader, kind="dialogs", target=9, operator_id=ids["olga"]))[0] == 403
    _status, listed = await admin.call("GET", "/api/kpi/plans")
    petr_plan = next(p for p in listed["plans"] if p["operator_id"] == ids["petr"])
    assert (await mara.call("DELETE", f"/api/kpi/plans/{petr_plan['id']}"))[0] == 403

    # Who sees whom: analyst and admin everyone but analysts; Mara her line and group; Olga
    # herself only.
    everyone = {"administrator", "olga", "mara", "petr", "ivan"}
    assert set(await board_rows(admin)) == everyone
    assert set(await board_rows(ada)) == everyone
    assert set(await board_rows(mara)) == {"olga", "mara"}
    mine = await board_rows(olga)
    assert set(mine) == {"olga"}
    _status, plans = await olga.call("GET", "/api/kpi/plans")
    assert {(p["kind"], p["operator_id"], p["group_id"]) for p in plans["plans"]} == {
        ("dialogs", None, ids["north"]),
        ("dialogs", ids["olga"], None),
        ("crm_points", None, ids["north"]),
    }
    assert plans["may_set"] == {"operators": [], "groups": []}

    # Olga's own plan (1 dialog) overrides her group's (5); the group's CRM points apply.
    want = expected_facts(world, "olga")
    kpis = {k["kind"]: k for k in mine["olga"]["kpis"]}
    assert kpis["dialogs"]["source"] == "operator" and kpis["dialogs"]["target"] == 1
    assert kpis["dialogs"]["fact"] == want["dialogs"]
    assert kpis["dialogs"]["met"] is (int(want["dialogs"]) >= 1)
    assert kpis["crm_points"]["fact"] == want["crm_points"]
    assert kpis["crm_points"]["source"] == "group"
    petr = (await board_rows(admin))["petr"]
    missed = expected_facts(world, "petr")["missed"]
    assert petr["kpis"][0]["fact"] == missed and petr["kpis"][0]["off_by"] == missed
    assert petr["kpis"][0]["met"] is (missed == 0)


async def test_rating_ranks_everyone_and_each_operator_sees_their_own_place(
    people: dict[str, OperatorClient], world: KpiWorld
) -> None:
    admin, olga, ada = people["admin"], people["olga"], people["ada"]
    weights = {
        "dialog:webchat": 2,
        "dialog:email": 1,
        "dialog:telegram": 0.5,
        "email_reply": 0.25,
        "lead": 3,
        "crm_field": 1.5,
    }
    status, answer = await admin.call("PUT", "/api/kpi/weights", {"weights": weights})
    assert status == 200 and answer["weights"]["lead"] == 3, answer
    assert (await ada.call("PUT", "/api/kpi/weights", {"weights": {"lead": 1}}))[0] == 403

    def points(who: str) -> float:
        f = expected_facts(world, who)
        units = {f"dialog:{k}": n for k, n in f["answered_by_kind"].items()}
        units |= {
            "email_reply": f["email_replies"],
            "lead": f["leads"],
            "crm_field": f["crm_fields"],
        }
        return round(float(sum(weights[k] * n for k, n in units.items())), 2)

    status, body = await admin.call("GET", f"/api/kpi/rating?{WEEK}")
    assert status == 200, body
    got = {r["name"].lower(): (r["points"], r["rank"]) for r in body["rows"]}
    want = {who: points(who) for who in ("olga", "mara", "petr", "ivan")} | {"administrator": 0.0}
    assert {who: p for who, (p, _rank) in got.items()} == want
    ordered = sorted(want.values(), reverse=True)
    assert all(rank == ordered.index(p) + 1 for p, rank in got.values())
    status, own = await olga.call("GET", f"/api/kpi/rating?{WEEK}")
    assert status == 200 and own["ranked"] == 5
    assert [(r["name"], r["points"], r["rank"]) for r in own["rows"]] == [("Olga", *got["olga"])]


BAD_PLANS = [
    ({"period": "day", "kind": "dialogs", "target": 1, "operator_id": 1}, "period: "),
    ({"period": "week", "kind": "calls", "target": 1, "operator_id": 1}, "kind: "),
    ({"period": "week", "kind": "dialogs", "target": -1, "operator_id": 1}, "target: "),
    ({"period": "week", "kind": "dialogs", "target": 1}, "operator_id: name an operator"),
    (
        {"period": "week", "kind": "dialogs", "target": 1, "operator_id": 1, "group_id": 1},
        "operator_id: name an operator",
    ),
    ({"period": "week", "kind": "rating_avg", "target": 7, "operator_id": 1}, "target: "),
    ({"period": "week", "kind": "dialogs", "target": 1, "operator_id": 999}, "operator_id: "),
    ({"period": "week", "kind": "dialogs", "target": 1, "group_id": 999}, "group_id: "),
    ({"period": "week", "kind": "dialogs", "target": 1, "operator_id": 1, "x": 1}, "x: "),
]


async def test_bad_plans_queries_and_weights_are_400s_naming_the_field(hub: str) -> None:
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    for body, reason in BAD_PLANS:
        status, answer = await admin.call("PUT", "/api/kpi/plans", body)
        assert status == 400 and answer["error"].startswith(reason), answer
    for query, field in (
        ("period=year", "period"),
        ("date=2026-13-01", "date"),
        ("group_id=x", "group_id"),
        ("colour=red", "colour"),
    ):
        for path in ("/api/kpi/board", "/api/kpi/rating"):
            status, answer = await admin.call("GET", f"{path}?{query}")
            assert status == 400 and answer["error"].startswith(f"{field}: "), (path, answer)
    for weights, field in (({"calls": 1}, "weights.calls"), ({"lead": -1}, "weights.lead")):
        status, answer = await admin.call("PUT", "/api/kpi/weights", {"weights": weights})
        assert status == 400 and answer["error"].startswith(f"{field}: "), answer
    await admin.close()
