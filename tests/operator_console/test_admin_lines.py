"""Lines and operators admin, [[lines]] from openlines.toml, CRM responsibles in routing, and
the web chat's rating buttons: the whole hub through the bus, real Redis and database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.crm_schema import CrmLead, CrmNote, CrmProfile
from core.db.schema import Channel, Dialog, Line, LineOperator, Operator
from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient

PASSWORD = "operator-password-1"


async def signed_in(hub: str, login: str, password: str = PASSWORD) -> OperatorClient:
    client = OperatorClient(hub)
    await client.login(login, password)
    return client


async def db_read(settings: Settings, query: Any) -> list[Any]:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s:
            return list(await s.scalars(query))
    finally:
        await engine.dispose()


async def eventually(settings: Settings, query: Any, check: Any) -> list[Any]:
    async with asyncio.timeout(10):
        while True:
            rows = await db_read(settings, query)
            if check(rows):
                return rows
            await asyncio.sleep(0.05)


async def test_admins_edit_lines_and_operators_managers_read_operators_are_refused(
    hub: str, settings: Settings
) -> None:
    admin = await signed_in(hub, "admin", ADMIN_PASSWORD)
    try:
        status, body = await admin.call(
            "POST",
            "/api/admin/operators",
            {
                "login": "olga",
                "name": "Olga",
                "role": "operator",
                "password": PASSWORD,
                "max_open_dialogs": 3,
            },
        )
        assert status == 201 and body["operator"]["max_open_dialogs"] == 3
        olga_id = body["operator"]["id"]
        status, _ = await admin.call(
            "POST",
            "/api/admin/operators",
            {"login": "max", "name": "Max", "role": "manager", "password": PASSWORD},
        )
        assert status == 201
        new_line = {
            "key": "support",
            "name": "Support",
            "timezone": "Europe/Berlin",
            "distribution": "sequence",
        }
        for settings_json, field in [
            ({"offer_seconds": 5}, "settings.offer_seconds"),
            ({"schedule": {"week": {"mon": ["09:00-25:00"]}}}, "settings.schedule.week.mon"),
            ({"rating": "emoji"}, "settings.rating"),
        ]:
            status, body = await admin.call(
                "POST", "/api/admin/lines", {**new_line, "settings": settings_json}
            )
            assert status == 400 and body["field"].startswith(field), body
        status, body = await admin.call(
            "POST", "/api/admin/lines", {**new_line, "timezone": "Mars/Base"}
        )
        assert status == 400 and body["field"] == "timezone", body
        status, body = await admin.call(
            "POST",
            "/api/admin/lines",
            {
                **new_line,
                "settings": {
                    "offer_seconds": 90,
                    "schedule": {"week": {"mon": ["09:00-18:00"]}},
                    "auto_replies": {"greeting": "Hi"},
                },
            },
        )
        assert status == 201, body
        line_id = body["line"]["id"]
        status, missing = await admin.call("PATCH", "/api/admin/lines/987654", {"name": "None"})
        assert (status, missing["error"]) == (404, "no such line"), missing
        assert body["line"]["settings"]["schedule"]["week"] == {"mon": ["09:00-18:00"]}
        status, body = await admin.call(
            "PUT",
            f"/api/admin/lines/{line_id}/queue",
            {"queue": [{"operator_id": olga_id, "max_open_dialogs": 2}]},
        )
        assert status == 200 and body["line"]["queue"] == [
            {"operator_id": olga_id, "max_open_dialogs": 2}
        ]
        status, body = await admin.call(
            "PATCH", f"/api/admin/lines/{line_id}", {"settings": {"auto_close_minutes": 0}}
        )
        assert status == 400 and body["field"] == "settings.auto_close_minutes"

        manager = await signed_in(hub, "max")
        olga = await signed_in(hub, "olga")
        try:
            status, body = await manager.call("GET", "/api/admin/lines")
            assert status == 200 and "support" in [ln["key"] for ln in body["lines"]]
            status, _ = await manager.call("POST", "/api/admin/lines", {**new_line, "key": "x"})
            assert status == 403
            assert (await olga.call("GET", "/api/admin/lines"))[0] == 403
            assert (await olga.call("GET", "/api/admin/operators"))[0] == 403
            # Disabling ends Olga's session and her login; enabling restores her password.
            status, body = await admin.call("POST", f"/api/admin/operators/{olga_id}/disable")
            assert status == 200 and body["operator"]["disabled"] is True
            assert (await olga.call("GET", "/api/me"))[0] == 401
            status, _ = await olga.call(
                "POST", "/api/login", {"login": "olga", "password": PASSWORD}
            )
            assert status == 401
            await admin.call("POST", f"/api/admin/operators/{olga_id}/enable")
            await olga.login("olga", PASSWORD)
        finally:
            await manager.close()
            await olga.close()

        # A line from openlines.toml is read-only here.
        engine = make_engine(settings.effective_database_url)
        try:
            async with make_sessionmaker(engine)() as s, s.begin():
                line = await s.get(Line, line_id)
                assert line is not None
                line.source = "file"
        finally:
            await engine.dispose()
        status, body = await admin.call("PATCH", f"/api/admin/lines/{line_id}", {"name": "X"})
        assert status == 409 and "openlines.toml" in body["error"]
        status, _ = await admin.call("PUT", f"/api/admin/lines/{line_id}/queue", {"queue": []})
        assert status == 409
    finally:
        await admin.close()


async def test_lines_of_openlines_toml_are_applied_at_start_and_a_bad_file_stops_it(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "openlines.toml"
    toml.write_text(
        'port = 8080\n[[lines]]\nkey = "sales"\nname = "Sales"\nmode = "sequence"\n'
        'offer_seconds = 120\nqueue = ["admin", "nobody-yet"]\nchannels = ["demo"]\n'
        'rating = "like"\n[lines.schedule.week]\nmon = ["09:00-18:00"]\n'
    )
    monkeypatch.setenv("OPENLINES_CONFIG", str(toml))
    assert Settings().port == 8080  # the settings still parse: [[lines]] is not theirs
    for _start in range(2):  # applied again at the next start, not duplicated
        server = TestServer(build_app(settings), host="127.0.0.1")
        await server.start_server()
        await server.close()
    (line,) = await db_read(settings, select(Line).where(Line.key == "sales"))
    assert (line.source, line.distribution, line.settings["offer_seconds"]) == (
        "file",
        "sequence",
        120,
    )
    assert line.settings["schedule"] == {"week": {"mon": ["09:00-18:00"]}}
    (channel,) = await db_read(settings, select(Channel).where(Channel.key == "demo"))
    assert channel.line_id == line.id
    (admin,) = await db_read(settings, select(Operator).where(Operator.login == "admin"))
    queue = await db_read(settings, select(LineOperator).where(LineOperator.line_id == line.id))
    assert [q.operator_id for q in queue] == [admin.id]

    toml.write_text('[[lines]]\nkey = "sales"\nname = "Sales"\noffer_seconds = 5\n')
    server = TestServer(build_app(settings), host="127.0.0.1")
    with pytest.raises(ValueError, match=r"lines\[0\]\.offer_seconds"):
        await server.start_server()
    await server.close()


async def test_a_returning_client_goes_to_the_crm_responsible_and_a_transfer_moves_it(
    hub: str, settings: Settings
) -> None:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            line = await s.scalar(select(Line).where(Line.key == "demo"))
            assert line is not None
            line.settings = {"returning": "crm_responsible"}
            ids = {}
            for position, login in enumerate(["pia", "quin"]):
                op = Operator(
                    login=login, name=login.title(), role="operator", password_hash=(await _hash())
                )
                s.add(op)
                await s.flush()
                s.add(LineOperator(line_id=line.id, operator_id=op.id, position=position + 1))
                ids[login] = op.id
    finally:
        await engine.dispose()
    pia, quin = await signed_in(hub, "pia"), await signed_in(hub, "quin")
    admin = await signed_in(hub, "admin", ADMIN_PASSWORD)
    visitor = VisitorClient(hub)
    try:
        for client in (pia, quin):
            await client.call("POST", "/api/presence", {"status": "online"})
            await client.wait_status("online")
        await visitor.connect()
        await visitor.say("first visit")
        (first,) = await eventually(settings, select(Dialog), lambda r: r and r[0].operator_id)
        await admin.call("POST", f"/api/dialogs/{first.id}/close")
        # The sink has handled the close (its transcript is there) before the CRM is edited.
        await eventually(settings, select(CrmNote), lambda r: r)
        # The CRM names Quin as this client's responsible; the next dialog goes to Quin.
        engine = make_engine(settings.effective_database_url)
        try:
            async with make_sessionmaker(engine)() as s, s.begin():
                profile = await s.get(CrmProfile, first.client_id)
                assert profile is not None
                profile.responsible_id = ids["quin"]
                for lead in await s.scalars(select(CrmLead)):
                    lead.responsible_id = ids["quin"]
        finally:
            await engine.dispose()
        await visitor.say("back again")
        rows = await eventually(
            settings, select(Dialog).order_by(Dialog.id), lambda r: len(r) == 2 and r[1].operator_id
        )
        second = rows[1]
        assert second.operator_id == ids["quin"]
        status, body = await admin.call("GET", f"/api/dialogs/{second.id}/audit")
        assert (body["audit"][0]["event"], body["audit"][0]["reason"]) == (
            "assign",
            "crm_responsible",
        )
        # Quin hands it to Pia: the CRM responsible follows (change_responsible_on_transfer).
        status, _ = await quin.call(
            "POST", f"/api/dialogs/{second.id}/transfer", {"to_operator_id": ids["pia"]}
        )
        assert status == 202
        await eventually(
            settings,
            select(CrmProfile).where(CrmProfile.client_id == first.client_id),
            lambda r: r[0].responsible_id == ids["pia"],
        )
        leads = await db_read(settings, select(CrmLead))
        assert all(lead.responsible_id == ids["pia"] for lead in leads)
    finally:
        await visitor.close()
        for client in (pia, quin, admin):
            await client.close()


async def test_the_widget_rates_a_closed_dialog_with_a_frame(hub: str, settings: Settings) -> None:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            line = await s.scalar(select(Line).where(Line.key == "demo"))
            assert line is not None
            line.settings = {"rating": "stars"}
    finally:
        await engine.dispose()
    admin = await signed_in(hub, "admin", ADMIN_PASSWORD)
    visitor, stranger = VisitorClient(hub), VisitorClient(hub)
    try:
        await visitor.connect()
        await stranger.connect()
        await visitor.say("hello")
        (dialog,) = await eventually(settings, select(Dialog), lambda r: r)
        await admin.call("POST", f"/api/dialogs/{dialog.id}/close")
        closed = await visitor.receive_until("closed", dialog_id=dialog.id)
        assert closed["rating"] == "stars"
        # Someone else's dialog cannot be rated by its id.
        assert stranger.ws is not None and visitor.ws is not None
        await stranger.ws.send_json({"type": "rate", "dialog_id": dialog.id, "value": 1})
        refused = await stranger.receive_until("error")
        assert refused["reason"].startswith("dialog_id")
        await visitor.ws.send_json({"type": "rate", "dialog_id": dialog.id, "value": 4})
        assert (await visitor.receive_until("rated"))["value"] == 4
        await eventually(settings, select(Dialog), lambda r: r[0].rating == 4)
    finally:
        await visitor.close()
        await stranger.close()
        await admin.close()


async def _hash() -> str:
    from operator_console.auth import hash_password

    return hash_password(PASSWORD)
