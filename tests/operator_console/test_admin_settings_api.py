"""The admin API behind the line form: refusals as a field and a sentence, a queue in the
create request, public holidays to import, a line's CRM rules and checks, the role each
endpoint asks for, and a no-answer auto-reply set through the API that the router sends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.routing_world import fire_now

pytestmark = [
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]

PASSWORD = "operator-password-1"
LINE = {"key": "sales", "name": "Sales", "timezone": "Europe/Berlin"}


async def refused(client: OperatorClient, method: str, path: str, body: Any) -> dict[str, Any]:
    status, answer = await client.call(method, path, body)
    assert status == 400, answer
    assert answer["error"] == answer["fields"][0]["message"]
    assert answer["field"] == answer["fields"][0]["field"]
    result: dict[str, Any] = answer
    return result


async def check_line_refusals(admin: OperatorClient) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"offer_seconds": 5}, "settings.offer_seconds", "Enter 60 or more."),
        ({"rating": "emoji"}, "settings.rating", "Choose one of 'none', 'stars' or 'like'."),
        ({"schedule": {"week": {"tue": "09:00-18:00"}}}, "settings.schedule.week.tue", "list"),
        (
            {"schedule": {"week": {"mon": ["09:00-12:00", "11:00-13:00"]}}},
            "settings.schedule.week.mon",
            "The hours 09:00-12:00 and 11:00-13:00 overlap.",
        ),
        (
            {"schedule": {"week": {}, "holidays": ["2026-02-30"]}},
            "settings.schedule.holidays",
            "There is no date 2026-02-30.",
        ),
        (
            {"auto_replies": {"no_answer": "Still looking."}},
            "settings.no_answer_seconds",
            "Set the no-answer time, or this auto-reply is never sent.",
        ),
        ({"crm": {"create_lead": "often"}}, "settings.crm.create_lead", "Choose yes or no."),
    ]
    for settings, field, sentence in cases:
        body = await refused(admin, "POST", "/api/admin/lines", {**LINE, "settings": settings})
        assert body["field"] == field, body
        assert sentence in body["error"], body
        # No developer wording: no dotted paths, no type names.
        assert "settings." not in body["error"] and " str" not in body["error"], body
    body = await refused(admin, "POST", "/api/admin/lines", {**LINE, "key": "Sales Line"})
    assert body["field"] == "key" and body["error"].startswith("Use lowercase letters")
    body = await refused(admin, "POST", "/api/admin/lines", {**LINE, "timezone": "Mars/Base"})
    assert body["field"] == "timezone" and "Europe/Berlin" in body["error"]


async def test_line_settings_refusals_queue_on_create_holidays_and_roles(hub: str) -> None:
    admin, olga = OperatorClient(hub), OperatorClient(hub)
    try:
        await admin.login("admin", ADMIN_PASSWORD)
        status, body = await admin.call(
            "POST",
            "/api/admin/operators",
            {"login": "olga", "name": "Olga", "password": PASSWORD},
        )
        olga_id = body["operator"]["id"]
        await check_line_refusals(admin)
        status, body = await admin.call(
            "POST",
            "/api/admin/lines",
            {**LINE, "queue": [{"operator_id": olga_id, "max_open_dialogs": 2}]},
        )
        assert status == 201, body
        line_id = body["line"]["id"]
        assert body["line"]["queue"] == [{"operator_id": olga_id, "max_open_dialogs": 2}]
        body = await refused(
            admin, "POST", "/api/admin/lines", {**LINE, "key": "x", "queue": [{"operator_id": 999}]}
        )
        assert body["field"] == "queue.0.operator_id"
        status, body = await admin.call("POST", "/api/admin/lines", LINE)
        assert status == 409 and body["field"] == "key"

        status, body = await admin.call("GET", "/api/admin/holidays?country=DE&year=2026")
        assert status == 200
        assert {"date": "2026-04-03", "name": "Good Friday"} in body["holidays"]
        status, body = await admin.call("GET", "/api/admin/holidays/countries")
        assert {"code": "DE", "name": "Germany"} in body["countries"]
        body = await refused(admin, "GET", "/api/admin/holidays?country=XX&year=2026", None)
        assert body["field"] == "country"
        body = await refused(admin, "GET", "/api/admin/holidays?country=DE&year=20", None)
        assert body["field"] == "year"

        await check_crm_rules(admin, line_id, olga_id)

        # Every endpoint asks for the caller's role: an operator may use none of them.
        await olga.login("olga", PASSWORD)
        forbidden: list[tuple[str, str, Any]] = [
            ("GET", "/api/admin/holidays?country=DE&year=2026", None),
            ("GET", "/api/admin/holidays/countries", None),
            ("GET", f"/api/crm/lines/{line_id}/required", None),
            ("GET", f"/api/crm/lines/{line_id}/checks", None),
            ("POST", f"/api/crm/lines/{line_id}/checks", {}),
            ("PUT", f"/api/crm/lines/{line_id}/required", {"fields": {}}),
            ("POST", "/api/admin/lines", {**LINE, "key": "mine"}),
        ]
        for method, path, payload in forbidden:
            status, _ = await olga.call(method, path, payload)
            assert status == 403, (method, path)
    finally:
        await admin.close()
        await olga.close()


async def check_crm_rules(admin: OperatorClient, line_id: int, olga_id: int) -> None:
    path = f"/api/crm/lines/{line_id}/required"
    status, body = await admin.call("GET", path)
    assert status == 200 and body["fields"] == {} and "phone" in body["builtin_fields"]
    body = await refused(admin, "PUT", path, {"fields": {"phone": 10, "fax": 1, "email": -1}})
    assert [f["field"] for f in body["fields"]] == ["fields.fax", "fields.email"]
    status, _ = await admin.call("PUT", path, {"fields": {"phone": 10, "custom:inn": 5}})
    assert status == 200
    status, body = await admin.call("GET", path)
    assert body["fields"] == {"phone": 10, "custom:inn": 5}
    checks = f"/api/crm/lines/{line_id}/checks"
    status, _ = await admin.call("POST", checks, {"operator_ids": [olga_id]})
    assert status == 201
    status, body = await admin.call("GET", checks)
    assert status == 200 and len(body["checks"]) == 1 and body["checks"][0]["created_at"]


async def first_dialog(admin: OperatorClient) -> int:
    async with asyncio.timeout(10):
        while True:
            _status, body = await admin.call("GET", "/api/dialogs?status=all")
            if body["dialogs"]:
                dialog_id: int = body["dialogs"][0]["id"]
                return dialog_id
            await asyncio.sleep(0.05)


async def test_a_no_answer_reply_set_in_the_console_is_sent(hub: str, redis_url: str) -> None:
    admin = OperatorClient(hub)
    visitor = VisitorClient(hub)
    try:
        await admin.login("admin", ADMIN_PASSWORD)
        _status, body = await admin.call("GET", "/api/admin/lines")
        demo = next(line for line in body["lines"] if line["key"] == "demo")
        # What the line form sends: the text and the time that makes the router send it.
        settings = {
            **demo["settings"],
            "no_answer_seconds": 30,
            "no_answer_action": "wait",
            "auto_replies": {"no_answer": "We are still looking for someone free."},
        }
        status, body = await admin.call(
            "PATCH", f"/api/admin/lines/{demo['id']}", {"settings": settings}
        )
        assert status == 200, body
        await visitor.connect()
        await visitor.say("hello?")
        dialog_id = await first_dialog(admin)
        await fire_now(redis_url, f"noanswer:{dialog_id}")
        reply = await visitor.receive_until("message", author="system")
        assert reply["text"] == "We are still looking for someone free."
    finally:
        await visitor.close()
        await admin.close()
