"""Client coverage through a whole hub: key clients and responsible operators set by admins
and managers, and per operator which clients had a dialog in the week, against Python."""

from __future__ import annotations

import pytest

from core.db import SessionMaker
from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.hubclient import OperatorClient
from tests.support.kpi_world import PASSWORD, in_week, seed_kpi_world

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]


async def test_coverage_lists_each_operators_clients_with_and_without_a_dialog(
    hub: str, db: SessionMaker
) -> None:
    world = await seed_kpi_world(db, seed=5, dialogs=30)
    admin, mara, olga = OperatorClient(hub), OperatorClient(hub), OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    await mara.login("mara", PASSWORD)
    await olga.login("olga", PASSWORD)
    try:
        owners = {"olga": range(0, 12), "petr": range(12, 20)}
        want: dict[str, dict[int, tuple[bool, bool]]] = {"olga": {}, "petr": {}}
        for who, indexes in owners.items():
            for n in indexes:
                client, key = world.clients[n], n % 3 == 0
                status, answer = await admin.call(
                    "PUT",
                    f"/api/kpi/coverage/clients/{client}",
                    {"key_client": key, "responsible_id": world.ids[who]},
                )
                assert status == 200, answer
                want[who][client] = (key, in_week(who, world.dialogs[n].opened_at))
        # Mara reads Olga but not Petr: she may not hand a client to him, nor take his.
        petrs = world.clients[12]
        for client, owner in ((world.clients[0], "petr"), (petrs, "olga")):
            status, _ = await mara.call(
                "PUT",
                f"/api/kpi/coverage/clients/{client}",
                {"key_client": True, "responsible_id": world.ids[owner]},
            )
            assert status == 403
        for body, reason in (
            ({"responsible_id": None}, "key_client: "),
            ({"key_client": True, "responsible_id": 999}, "responsible_id: "),
        ):
            status, answer = await admin.call("PUT", f"/api/kpi/coverage/clients/{petrs}", body)
            assert status == 400 and answer["error"].startswith(reason), answer
        assert (
            await olga.call(
                "PUT",
                f"/api/kpi/coverage/clients/{petrs}",
                {"key_client": False, "responsible_id": None},
            )
        )[0] == 403

        status, body = await admin.call("GET", "/api/kpi/coverage?period=week&date=2026-03-05")
        assert status == 200, body
        rows = {r["name"].lower(): r for r in body["rows"]}
        for who, clients in want.items():
            got = {c["client_id"]: (c["key_client"], c["had_dialog"]) for c in rows[who]["clients"]}
            assert got == clients, who
            assert rows[who]["covered"] == sum(had for _k, had in clients.values())
            assert rows[who]["key_total"] == sum(k for k, _h in clients.values())
            keys_first = [c["key_client"] for c in rows[who]["clients"]]
            assert keys_first == sorted(keys_first, reverse=True)
        assert 0 < rows["olga"]["covered"] < rows["olga"]["total"]  # both lists have clients
        assert rows["ivan"]["clients"] == []

        status, mine = await olga.call("GET", "/api/kpi/coverage?period=week&date=2026-03-05")
        assert [r["name"] for r in mine["rows"]] == ["Olga"]
        # Her clients' cards are hers to open, whoever answered their dialogs.
        status, card = await olga.call("GET", f"/api/crm/clients/{world.clients[1]}")
        assert status == 200 and card["client"]["key_client"] is False, card
    finally:
        for person in (admin, mara, olga):
            await person.close()
