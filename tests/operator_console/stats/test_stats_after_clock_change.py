"""After an admin moves a line to another time zone and other working hours, its past dialogs'
figures are counted again in the background (``core.db.recount``): the admin's request only
notes the line, a recount that stops mid-way goes on from where it was, and once it is done
the rollup-backed and the dialogs-backed answers of every statistics query agree with each
other and with the plain computation in the line's new clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, delete, select

from config.lines import LineSettings
from core.db.recount import FigureRecounter, do_recount_batch
from core.db.rollup import DAYS, RESPONSES, backfill
from core.db.rollup_schema import FigureRecount
from core.db.schema import Dialog
from operator_console.stats import rollup
from tests.operator_console.stats import reference
from tests.operator_console.stats.conftest import Console
from tests.operator_console.stats.dataset import make_places, put_dialogs
from tests.operator_console.stats.test_stats_api import fixed_dialogs
from tests.support.hubclient import OperatorClient

pytestmark = pytest.mark.parametrize("redis_server", ["7"], indirect=True)

TOKYO = {
    "schedule": {
        "week": {d: ["10:00-19:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": ["2026-03-30", "2026-10-26"],
    }
}
QUERIES = ["", "from=2026-03-29&to=2026-10-25", "from=2026-10-25&to=2026-10-26"]


def _snapshot(conn: Connection) -> tuple[list[Any], list[Any]]:
    days = conn.execute(select(DAYS).order_by(*DAYS.primary_key.columns)).all()
    answered = conn.execute(select(RESPONSES).order_by(*RESPONSES.primary_key.columns)).all()
    return [tuple(r) for r in days], [tuple(r) for r in answered]


def _kept_equals_rebuilt(conn: Connection) -> bool:
    """Whether the rollup kept dialog by dialog equals one made afresh from the dialogs."""
    kept = _snapshot(conn)
    nested = conn.begin_nested()
    conn.execute(delete(DAYS))
    conn.execute(delete(RESPONSES))
    backfill(conn)
    rebuilt = _snapshot(conn)
    nested.rollback()
    return kept == rebuilt


async def _answers(client: OperatorClient, query: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("summary?group_by=channel&business_time=true", "summary?business_time=false"):
        out[name] = await _get(client, f"/api/stats/{name}&{query}")
    out["daily"] = await _get(client, f"/api/stats/daily?{query}")
    out["heatmap"] = (await _get(client, f"/api/stats/heatmap?{query}"))["cells"]
    return out


async def _get(client: OperatorClient, path: str) -> Any:
    status, body = await client.call("GET", path)
    assert status == 200, (path, body)
    return body


async def _recount_row(console: Console) -> FigureRecount | None:
    async with console.db() as s:
        return await s.scalar(select(FigureRecount))


async def test_a_time_zone_change_recounts_the_line_and_both_paths_agree(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    places = await make_places(console.db)
    plain = fixed_dialogs(places, 60)
    await put_dialogs(console.db, places, plain)
    berlin = places.line_ids["berlin"]
    await console.person("root", "admin")
    root = await console.client("root")
    try:
        status, _ = await root.call("PATCH", f"/api/admin/lines/{berlin}", {"name": "Berlin HQ"})
        assert status == 200
        assert await _recount_row(console) is None  # a new name changes no figure

        async with console.db() as s:
            before = {d.id: d.opened_day for d in await s.scalars(select(Dialog))}
        body = {"timezone": "Asia/Tokyo", "settings": TOKYO}
        status, _ = await root.call("PATCH", f"/api/admin/lines/{berlin}", body)
        assert status == 200
        noted = await _recount_row(console)
        assert noted is not None and (noted.line_id, noted.after_dialog_id) == (berlin, 0)
        async with console.db() as s:  # the request left the work to the recount
            assert {d.id: d.opened_day for d in await s.scalars(select(Dialog))} == before

        lines = {
            **places.lines,
            berlin: reference.PlainLine(
                ZoneInfo("Asia/Tokyo"),
                LineSettings.model_validate(TOKYO).build_schedule("Asia/Tokyo"),
            ),
        }
        chosen = reference.selected(plain, lines, None, None, None)
        stale = await _get(root, "/api/stats/daily?")
        assert stale != reference.daily(chosen, lines, None, None)

        # One batch, then the process "stops": the worker of the next goes on from the row.
        assert await do_recount_batch(console.db, size=7)
        halfway = await _recount_row(console)
        assert halfway is not None
        assert halfway.after_dialog_id == sorted(await _ids_on(console, berlin))[6]
        stopping = asyncio.Event()
        worker = asyncio.create_task(FigureRecounter(console.db, 10, 0.05).run(stopping))
        async with asyncio.timeout(20):
            while await _recount_row(console) is not None:
                await asyncio.sleep(0.05)
        stopping.set()
        await asyncio.wait_for(worker, 5)

        async with console.db() as s:
            conn = await s.connection()
            assert await conn.run_sync(_kept_equals_rebuilt)
        for query in QUERIES:
            from_rollup = await _answers(root, query)
            with monkeypatch.context() as patched:
                patched.setattr(rollup, "rollup_where", lambda *_a, **_k: None)
                from_dialogs = await _answers(root, query)
            assert from_rollup == from_dialogs, query
            first, last = _dates(query)
            chosen = reference.selected(plain, lines, first, last, None)
            assert from_rollup["daily"] == reference.daily(chosen, lines, first, last)
            assert from_rollup["heatmap"] == reference.heatmap(chosen, lines)
            expected = reference.summary(chosen, lines, "channel", True)
            shown = from_rollup["summary?group_by=channel&business_time=true"]
            assert (shown["total"], shown["in_hours"]) == (
                expected["total"],
                expected["in_hours"],
            )
        # A holiday alone changes the working seconds: the line is noted again.
        holiday = {"schedule": {**TOKYO["schedule"], "holidays": ["2026-11-02"]}}
        status, _ = await root.call("PATCH", f"/api/admin/lines/{berlin}", {"settings": holiday})
        assert status == 200
        noted = await _recount_row(console)
        assert noted is not None and noted.line_id == berlin
    finally:
        await root.close()


async def _ids_on(console: Console, line_id: int) -> list[int]:
    async with console.db() as s:
        return list(await s.scalars(select(Dialog.id).where(Dialog.line_id == line_id)))


def _dates(query: str) -> tuple[date | None, date | None]:
    values = dict(part.split("=") for part in query.split("&") if part)
    first, last = values.get("from"), values.get("to")
    return (
        date.fromisoformat(first) if first else None,
        date.fromisoformat(last) if last else None,
    )
