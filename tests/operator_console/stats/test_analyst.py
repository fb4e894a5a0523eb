"""An analyst reads and changes nothing: every state-changing /api endpoint answers 403, and
the admin API never puts an analyst on a line or in an operator group."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.db.routing_schema import OperatorGroup
from tests.operator_console.stats.conftest import Console
from tests.operator_console.stats.world import add_client_dialog
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient

pytestmark = [
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _state_changing_routes(console: Console) -> list[tuple[str, str]]:
    found = set()
    for route in console.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method in CHANGES and path.startswith("/api/") and path != "/api/login":
            found.add((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    return sorted(found)


async def test_every_state_changing_endpoint_refuses_an_analyst(console: Console) -> None:
    await console.person("ann", "analyst")
    ann = await console.client("ann")
    try:
        routes = _state_changing_routes(console)
        assert ("PUT", "/api/admin/lines/1/queue") in routes and len(routes) > 20
        for method, path in routes:
            if path == "/api/logout":
                continue
            status, body = await ann.call(method, path, {})
            assert status == 403, (method, path, status, body)
        status, me = await ann.call("GET", "/api/me")
        assert status == 200 and me["operator"]["role"] == "analyst"
        # A row of the dialog report opens the dialog's history, on any line.
        dialog_id = await add_client_dialog(console.db, 1, 1, operator_id=None)
        status, body = await ann.call("GET", f"/api/dialogs/{dialog_id}")
        assert status == 200 and body["dialog"]["id"] == dialog_id
        assert (await ann.call("POST", "/api/logout", {}))[0] in (200, 204)
    finally:
        await ann.close()


async def test_admin_cannot_put_an_analyst_on_a_line_or_in_a_group(console: Console) -> None:
    ann = await console.person("ann", "analyst")
    olga = await console.person("olga", "operator")
    admin = OperatorClient(console.base)
    await admin.login("admin", ADMIN_PASSWORD)
    try:
        status, body = await admin.call(
            "PUT", "/api/admin/lines/1/queue", {"queue": [{"operator_id": ann}]}
        )
        assert status == 400 and body["field"] == "queue.0.operator_id"
        assert body["error"] == "An analyst is never on a line."
        status, created = await admin.call("POST", "/api/admin/groups", {"name": "night"})
        assert status == 201
        group = created["group"]["id"]
        status, body = await admin.call(
            "PUT", f"/api/admin/groups/{group}/members", {"operator_ids": [olga, ann]}
        )
        assert status == 400 and body["error"].startswith("operator_ids.1: an analyst")
        # An operator still in a queue cannot become an analyst until taken out of it.
        status, _ = await admin.call(
            "PUT", "/api/admin/lines/1/queue", {"queue": [{"operator_id": olga}]}
        )
        assert status == 200
        status, body = await admin.call(
            "PATCH", f"/api/admin/operators/{olga}", {"role": "analyst"}
        )
        assert status == 409 and body["error"].startswith("role: an analyst is never on a line")
        await admin.call("PUT", "/api/admin/lines/1/queue", {"queue": []})
        status, body = await admin.call(
            "PATCH", f"/api/admin/operators/{olga}", {"role": "analyst"}
        )
        assert status == 200 and body["operator"]["role"] == "analyst"
        status, body = await admin.call(
            "POST",
            "/api/admin/operators",
            {"login": "ava", "name": "Ava", "role": "analyst", "password": "long-enough"},
        )
        assert status == 201 and body["operator"]["role"] == "analyst"
        async with console.db() as s:
            assert await s.scalar(select(OperatorGroup.id)) == group
        # Nobody can transfer a dialog to an analyst or invite one: they are not offered.
        status, body = await admin.call("GET", "/api/colleagues")
        offered = {op["id"] for op in body["operators"]}
        assert status == 200 and ann not in offered and olga not in offered and offered
    finally:
        await admin.close()
