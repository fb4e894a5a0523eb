"""Groups of operators in a line's queue, and managers who supervise only their own lines:
the whole hub, real Redis and database, through the console's API."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from config.lines import LineConfig, LinesFile
from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.routing_schema import LineGroup, OperatorGroup
from core.db.schema import Line, LineOperator
from operator_console.lines_file import do_apply_lines_file
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient

PASSWORD = "operator-password-1"


async def signed_in(hub: str, login: str, password: str = PASSWORD) -> OperatorClient:
    client = OperatorClient(hub)
    await client.login(login, password)
    await client.wait_status("online")
    await client.open_socket()
    return client


async def make_operator(admin: OperatorClient, login: str, role: str = "operator") -> int:
    body = {"login": login, "name": login.title(), "role": role, "password": PASSWORD}
    status, answer = await admin.call("POST", "/api/admin/operators", body)
    assert status == 201, answer
    return int(answer["operator"]["id"])


async def demo_line(admin: OperatorClient) -> dict[str, Any]:
    _status, body = await admin.call("GET", "/api/admin/lines")
    return next(line for line in body["lines"] if line["key"] == "demo")


async def make_group(admin: OperatorClient, name: str, members: list[int]) -> int:
    status, answer = await admin.call("POST", "/api/admin/groups", {"name": name})
    assert status == 201, answer
    group_id = int(answer["group"]["id"])
    status, answer = await admin.call(
        "PUT", f"/api/admin/groups/{group_id}/members", {"operator_ids": members}
    )
    assert status == 200 and answer["group"]["members"] == sorted(members), answer
    return group_id


async def test_a_line_whose_queue_is_a_group_routes_to_its_online_members(hub: str) -> None:
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    gina_id = await make_operator(admin, "gina")
    hugo_id = await make_operator(admin, "hugo")
    group_id = await make_group(admin, "support", [gina_id])
    line = await demo_line(admin)
    status, answer = await admin.call(
        "PUT", f"/api/admin/lines/{line['id']}/queue", {"queue": [{"group_id": group_id}]}
    )
    assert status == 200, answer
    assert answer["line"]["queue"] == [{"group_id": group_id, "max_open_dialogs": None}]
    status, answer = await admin.call(
        "PUT", f"/api/admin/lines/{line['id']}/queue", {"queue": [{"group_id": 9999}]}
    )
    assert status == 400 and answer["field"] == "queue.0.group_id"
    assert answer["error"] == "This group does not exist."
    status, answer = await admin.call("GET", "/api/admin/groups")
    assert answer["groups"] == [{"id": group_id, "name": "support", "members": [gina_id]}]

    gina, hugo = await signed_in(hub, "gina"), await signed_in(hub, "hugo")
    first, second = VisitorClient(hub), VisitorClient(hub)
    try:
        # Only the group staffs the line now, and the widget still says someone is there.
        assert (await first.connect())["online"] is True
        await first.say("Hello?")
        taken = (await gina.receive_until("dialog", status="open"))["dialog"]
        assert taken["operator_id"] == gina_id
        # Hugo joins the group afterwards and Gina steps away: the next dialog is his.
        await admin.call(
            "PUT", f"/api/admin/groups/{group_id}/members", {"operator_ids": [gina_id, hugo_id]}
        )
        await gina.call("POST", "/api/presence", {"status": "away"})
        await gina.wait_status("away")
        await second.connect()
        await second.say("Anyone?")
        mine = (await hugo.receive_until("dialog", status="open"))["dialog"]
        assert mine["operator_id"] == hugo_id and mine["id"] != taken["id"]
    finally:
        for client in (first, second):
            await client.close()
        for operator in (gina, hugo, admin):
            await operator.close()


async def dialog_on(client: OperatorClient, dialog_id: int, line_id: int) -> None:
    async with asyncio.timeout(10):
        while True:
            status, body = await client.call("GET", f"/api/dialogs/{dialog_id}")
            if status == 200 and body["dialog"]["line_id"] == line_id:
                return
            await asyncio.sleep(0.05)


async def test_a_manager_sees_and_supervises_only_the_lines_they_are_on(hub: str) -> None:
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.wait_status("online")
    await admin.open_socket()
    mia_id = await make_operator(admin, "mia", role="manager")
    line = await demo_line(admin)
    # Mia is on the demo line through a group, behind the admin who takes its dialogs.
    group_id = await make_group(admin, "leads", [mia_id])
    status, _ = await admin.call(
        "PUT",
        f"/api/admin/lines/{line['id']}/queue",
        {
            "queue": [{"operator_id": entry["operator_id"]} for entry in line["queue"]]
            + [{"group_id": group_id}]
        },
    )
    assert status == 200
    status, answer = await admin.call("POST", "/api/admin/lines", {"key": "other", "name": "Other"})
    assert status == 201, answer
    other_id = answer["line"]["id"]

    first, second = VisitorClient(hub), VisitorClient(hub)
    mia = None
    try:
        await first.connect()
        await first.say("mine, demo line")
        ours = (await admin.receive_until("dialog", status="open"))["dialog"]
        await second.connect()
        await second.say("soon on the other line")
        theirs = (await admin.receive_until("dialog", status="open", id=ours["id"] + 1))["dialog"]
        status, _ = await admin.call(
            "POST", f"/api/dialogs/{theirs['id']}/transfer", {"to_line_id": other_id}
        )
        assert status == 202
        await dialog_on(admin, theirs["id"], other_id)

        mia = await signed_in(hub, "mia")
        status, body = await mia.call("GET", "/api/dialogs")
        assert status == 200 and [d["id"] for d in body["dialogs"]] == [ours["id"]]
        assert (await mia.call("GET", f"/api/dialogs/{theirs['id']}"))[0] == 404
        assert (await mia.call("POST", f"/api/dialogs/{theirs['id']}/join"))[0] == 404
        takeover = {"to_operator_id": mia_id}
        status, _ = await mia.call("POST", f"/api/dialogs/{theirs['id']}/transfer", takeover)
        assert status == 404
        # Invited into the other line's dialog she sees it, but supervises it no more than before.
        invite = {"colleague_id": mia_id}
        status, _ = await admin.call("POST", f"/api/dialogs/{theirs['id']}/invite", invite)
        assert status == 202
        async with asyncio.timeout(10):
            while (await mia.call("GET", f"/api/dialogs/{theirs['id']}"))[0] != 200:
                await asyncio.sleep(0.05)
        assert (await mia.call("POST", f"/api/dialogs/{theirs['id']}/join"))[0] == 403
        status, _ = await mia.call("POST", f"/api/dialogs/{theirs['id']}/transfer", takeover)
        assert status == 403
        assert (await mia.call("POST", f"/api/dialogs/{ours['id']}/join"))[0] == 202
        status, _ = await mia.call("POST", f"/api/dialogs/{ours['id']}/transfer", takeover)
        assert status == 202
        held = (await mia.receive_until("dialog", id=ours["id"], operator_id=mia_id))["dialog"]
        assert held["status"] == "open"
        # The admin still sees both lines.
        status, body = await admin.call("GET", "/api/dialogs?status=all")
        assert {ours["id"], theirs["id"]} <= {d["id"] for d in body["dialogs"]}
    finally:
        for client in (first, second):
            await client.close()
        for operator in (mia, admin):
            if operator is not None:
                await operator.close()


async def test_openlines_toml_names_groups_in_a_queue(hub: str, settings: Settings) -> None:
    engine = make_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as s, s.begin():
            group = OperatorGroup(name="support")
            s.add(group)
            await s.flush()
            group_id = group.id
        queue = ["group:support", "admin", "group:not-yet"]
        await do_apply_lines_file(
            sessions, LinesFile(lines=[LineConfig(key="sales", name="Sales", queue=queue)])
        )
        async with sessions() as s:
            line = await s.scalar(select(Line).where(Line.key == "sales"))
            assert line is not None
            groups = (await s.scalars(select(LineGroup).where(LineGroup.line_id == line.id))).all()
            direct = (
                await s.scalars(select(LineOperator).where(LineOperator.line_id == line.id))
            ).all()
        assert [(g.group_id, g.position) for g in groups] == [(group_id, 0)]
        assert [d.position for d in direct] == [1]
    finally:
        await engine.dispose()


async def test_a_group_is_renamed_and_deleted_but_not_while_a_queue_holds_it(hub: str) -> None:
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    try:
        gina_id = await make_operator(admin, "gina")
        night = await make_group(admin, "night", [gina_id])
        await make_group(admin, "day", [])
        status, answer = await admin.call("PATCH", f"/api/admin/groups/{night}", {"name": "day"})
        assert status == 409 and answer["field"] == "name", answer
        status, answer = await admin.call(
            "PATCH", f"/api/admin/groups/{night}", {"name": "evening"}
        )
        assert status == 200 and answer["group"]["name"] == "evening", answer

        line = await demo_line(admin)
        queue = {"queue": [{"group_id": night}]}
        status, answer = await admin.call("PUT", f"/api/admin/lines/{line['id']}/queue", queue)
        assert status == 200, answer
        status, answer = await admin.call("DELETE", f"/api/admin/groups/{night}")
        assert status == 409 and "Demo" in answer["error"], answer

        status, answer = await admin.call(
            "PUT", f"/api/admin/lines/{line['id']}/queue", {"queue": []}
        )
        assert status == 200, answer
        status, _ = await admin.call("DELETE", f"/api/admin/groups/{night}")
        assert status == 204
        status, answer = await admin.call("GET", "/api/admin/groups")
        assert [g["name"] for g in answer["groups"]] == ["day"]
        status, _ = await admin.call("DELETE", f"/api/admin/groups/{night}")
        assert status == 404
    finally:
        await admin.close()
