"""The what-if API's refusals, each with its reason: who may see a line's what-if, who may
apply one, and proposals that name what does not exist or a period that is not one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.db import SessionMaker
from core.db.schema import Line, LineOperator, Operator
from core.envelope import utcnow
from operator_console.auth import hash_password
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient

pytestmark = [
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
]


async def _people(db: SessionMaker) -> dict[str, int]:
    """An analyst, an operator, and a manager of the demo line only (a second line exists)."""
    async with db() as s, s.begin():
        people = {
            login: Operator(login=login, name=login.title(), role=role,
                            password_hash=hash_password("pw-" + login))
            for login, role in (("ana", "analyst"), ("olga", "operator"), ("mara", "manager"))
        }  # fmt: skip
        other = Line(key="other", name="Other", settings={})
        s.add_all([*people.values(), other])
        await s.flush()
        s.add(LineOperator(line_id=1, operator_id=people["mara"].id, position=0))
        s.add(LineOperator(line_id=1, operator_id=people["olga"].id, position=1))
        return {"other_line": other.id, **{k: v.id for k, v in people.items()}}


def _run_body(**proposed: Any) -> dict[str, Any]:
    today = utcnow().date()
    return {
        "from": (today - timedelta(days=7)).isoformat(),
        "to": (today - timedelta(days=1)).isoformat(),
        "runs": 1,
        "proposed": {"distribution": "evenly", "timezone": "UTC", "settings": {}, **proposed},
    }


async def _as(hub: str, login: str, password: str) -> OperatorClient:
    client = OperatorClient(hub)
    await client.login(login, password)
    return client


async def test_what_if_refuses_with_reasons(hub: str, db: SessionMaker) -> None:
    ids = await _people(db)
    admin = await _as(hub, "admin", ADMIN_PASSWORD)
    ana = await _as(hub, "ana", "pw-ana")
    olga = await _as(hub, "olga", "pw-olga")
    mara = await _as(hub, "mara", "pw-mara")
    try:
        # Neither an analyst nor an operator simulates a line.
        for client in (ana, olga):
            status, _ = await client.call("GET", "/api/lines/1/whatif")
            assert status == 403
            status, _ = await client.call("POST", "/api/lines/1/whatif/runs", _run_body())
            assert status == 403
        # A manager simulates their own line, and does not learn of another.
        status, setup = await mara.call("GET", "/api/lines/1/whatif")
        assert status == 200 and setup["may_apply"] is False
        status, answer = await mara.call("GET", f"/api/lines/{ids['other_line']}/whatif")
        assert status == 404 and "no such line" in str(answer)

        # Proposals naming nobody, a group that does not exist, or a broken period.
        bad: list[tuple[dict[str, Any], str]] = [
            (_run_body(queue=[{"operator_id": ids["ana"]}]), "proposed.queue.0.operator_id"),
            (_run_body(queue=[{"group_id": 999}]), "proposed.queue.0.group_id"),
            (_run_body(distribution="lottery"), "distribution"),
            ({**_run_body(), "to": "2020-01-01"}, "to"),
        ]
        for body, field in bad:
            status, answer = await admin.call("POST", "/api/lines/1/whatif/runs", body)
            assert status == 400, (body, answer)
            assert field in str(answer), (field, answer)

        # A run that exists is the manager's to read, not to apply; an unknown run is a 404.
        status, started = await mara.call("POST", "/api/lines/1/whatif/runs", _run_body())
        assert status == 202, started
        run = started["run"]
        status, _ = await mara.call("POST", f"/api/lines/1/whatif/runs/{run}/apply")
        assert status == 403
        status, answer = await admin.call("GET", "/api/lines/1/whatif/runs/no-such-run")
        assert status == 404 and "no such run" in str(answer)
        status, _ = await admin.call("GET", f"/api/lines/{ids['other_line']}/whatif/runs/{run}")
        assert status == 404
    finally:
        for client in (admin, ana, olga, mara):
            await client.close()
