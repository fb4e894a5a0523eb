"""The statistics endpoints over HTTP on SQLite and PostgreSQL: the aggregates of a fixed data
set equal the plain computation, keyset pages return every row once in order, the CSV is the
JSON rows, each role reads only its scope, and bad filters answer 400 naming the field."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.db.schema import Dialog, LineOperator
from operator_console.stats.export import csv_cell
from tests.operator_console.stats import reference
from tests.operator_console.stats.conftest import Console
from tests.operator_console.stats.dataset import Places, make_places, put_dialogs
from tests.operator_console.stats.strategies import ANCHORS
from tests.support.hubclient import OperatorClient

pytestmark = pytest.mark.parametrize("redis_server", ["7"], indirect=True)

SORTS = ["started_at", "first_response_s", "duration_s", "last_activity_at", "rating"]


def fixed_dialogs(places: Places, count: int = 50) -> list[reference.PlainDialog]:
    """A reproducible mix of dialogs around the anchors of the property test."""
    rng = random.Random(11)
    out = []
    for _ in range(count):
        channel_id = rng.choice(sorted(places.channels))
        line_id, kind = places.channels[channel_id]
        opened = rng.choice(ANCHORS) + timedelta(seconds=rng.randint(-60000, 60000))
        answer = rng.choice([None, rng.randint(0, 90000)])
        close = rng.choice([None, rng.randint(0, 90000)])
        out.append(
            reference.PlainDialog(
                line_id=line_id,
                channel_id=channel_id,
                channel_kind=kind,
                operator_id=rng.choice([None, *places.operators.values()]),
                status=rng.choice(["waiting", "open", "closed"]),
                opened_at=opened,
                first_response_at=None if answer is None else opened + timedelta(seconds=answer),
                closed_at=None if close is None else opened + timedelta(seconds=close),
                began_in_hours=rng.choice([None, True, False]),
                outcome=rng.choice([None, "answered", "missed", "out_of_hours", "client_left"]),
                rating=rng.choice([None, 1, 2, 3, 4, 5, 5]),
                client_messages=rng.randint(0, 9),
                operator_messages=rng.randint(0, 9),
            )
        )
    return out


async def _get(client: OperatorClient, path: str) -> Any:
    status, body = await client.call("GET", path)
    assert status == 200, (path, body)
    return body


async def _all_pages(client: OperatorClient, query: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = await _get(
            client, f"/api/stats/dialogs?{query}&limit=9" + (f"&after={cursor}" if cursor else "")
        )
        assert len(page["rows"]) <= 9
        rows.extend(page["rows"])
        cursor = page["next"]
        if cursor is None:
            return rows
    raise AssertionError("paging never ended")


def _sort_value(row: dict[str, Any], sort: str, ascending: bool) -> Any:
    key = {"started_at": "started_at", "last_activity_at": "last_activity_at"}.get(sort, sort)
    value = row[key]
    if value is None:
        return float("inf") if ascending else float("-inf")
    return value


async def _csv_rows(client: OperatorClient, query: str) -> list[list[str]]:
    async with client.http.get(f"{client.base}/api/stats/dialogs.csv?{query}") as resp:
        assert resp.status == 200 and resp.content_type == "text/csv"
        return list(csv.reader(io.StringIO(await resp.text())))


async def test_statistics_over_http_on_each_database(console: Console) -> None:
    places = await make_places(console.db)
    plain = fixed_dialogs(places)
    await put_dialogs(console.db, places, plain)
    berlin, newyork = places.line_ids["berlin"], places.line_ids["newyork"]
    await console.person("ann", "analyst")
    mara = await console.person("mara", "manager")
    async with console.db() as s, s.begin():
        s.add(LineOperator(line_id=newyork, operator_id=mara))
        s.add(LineOperator(line_id=berlin, operator_id=places.operators["olga"]))
    lines = {**places.lines}
    ann = await console.client("ann")
    try:
        # The property test covers the combinations on SQLite; here each grouping and each
        # kind of first response time runs once through both databases' SQL.
        for query, first, last, line_id, groupings in [
            ("", None, None, None, [("line", "false"), ("operator", "true")]),
            (
                f"from=2026-03-29&to=2026-10-25&line_id={berlin}",
                date(2026, 3, 29),
                date(2026, 10, 25),
                berlin,
                [("channel", "true")],
            ),
            ("from=2026-11-01", date(2026, 11, 1), None, None, [("operator", "false")]),
        ]:
            chosen = reference.selected(plain, lines, first, last, line_id)
            for group_by, business in groupings:
                shown = await _get(
                    ann,
                    f"/api/stats/summary?{query}&group_by={group_by}&business_time={business}",
                )
                expected = reference.summary(chosen, lines, group_by, business == "true")
                assert shown["total"] == expected["total"]
                assert shown["in_hours"] == expected["in_hours"]
                assert {
                    g["key"]: {k: v for k, v in g.items() if k not in ("key", "label")}
                    for g in shown["groups"]
                } == expected["groups"]
            assert await _get(ann, f"/api/stats/daily?{query}") == reference.daily(
                chosen, lines, first, last
            )
            assert (await _get(ann, f"/api/stats/heatmap?{query}"))["cells"] == reference.heatmap(
                chosen, lines
            )

        every_id = sorted(await _ids(console))
        for sort in SORTS:
            for order in ("asc", "desc"):
                rows = await _all_pages(ann, f"sort={sort}&order={order}")
                ids = [r["dialog_id"] for r in rows]
                assert sorted(ids) == every_id, (sort, order)
                keys = [(_sort_value(r, sort, order == "asc"), r["dialog_id"]) for r in rows]
                assert keys == sorted(keys, reverse=order == "desc"), (sort, order)
        rows = await _all_pages(ann, "sort=first_response_s&order=asc")
        table = await _csv_rows(ann, "sort=first_response_s&order=asc&limit=3")
        assert table[0] == list(rows[0])
        assert table[1:] == [[csv_cell(v) for v in r.values()] for r in rows]
        assert any(cell == "'=Eve" for cell in table[1])

        zone = lines[berlin].zone
        local = {
            r["dialog_id"]: datetime.fromisoformat(r["started_at"]).astimezone(zone) for r in rows
        }
        missed = [r for r in rows if r["line_id"] == berlin and r["outcome"] == "missed"]
        cell = (local[missed[0]["dialog_id"]].weekday(), local[missed[0]["dialog_id"]].hour)
        expected_ids = {
            r["dialog_id"]
            for r in missed
            if (local[r["dialog_id"]].weekday(), local[r["dialog_id"]].hour) == cell
        }
        drill = await _all_pages(
            ann, f"line_id={berlin}&weekday={cell[0]}&hour={cell[1]}&missed=true"
        )
        assert {r["dialog_id"] for r in drill} == expected_ids
        # A day of the daily chart: the dialogs that began on that local date of their line.
        day = local[missed[0]["dialog_id"]].date()
        on_day = await _all_pages(ann, f"day={day.isoformat()}")
        began = {
            r["dialog_id"]
            for r in rows
            if datetime.fromisoformat(r["started_at"]).astimezone(lines[r["line_id"]].zone).date()
            == day
        }
        assert {r["dialog_id"] for r in on_day} == began
    finally:
        await ann.close()
    await _check_scopes(console, places, plain)
    await _check_bad_filters(console)


async def _ids(console: Console, **where: Any) -> list[int]:
    async with console.db() as s:
        stmt = select(Dialog.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(Dialog, name) == value)
        return list(await s.scalars(stmt))


async def _check_scopes(
    console: Console, places: Places, plain: list[reference.PlainDialog]
) -> None:
    berlin, newyork = places.line_ids["berlin"], places.line_ids["newyork"]
    olga_id = places.operators["olga"]
    expect = {
        "olga": set(await _ids(console, operator_id=olga_id, line_id=berlin)),
        "mara": set(await _ids(console, line_id=newyork)),
    }
    for login, ids in expect.items():
        client = await console.client(login)
        try:
            rows = await _all_pages(client, "sort=started_at")
            assert {r["dialog_id"] for r in rows} == ids and ids
            table = await _csv_rows(client, "")
            assert len(table) - 1 == len(ids)
            summary = await _get(client, "/api/stats/summary?group_by=line")
            assert summary["total"]["dialogs"] == len(ids)
            daily = await _get(client, "/api/stats/daily")
            assert sum(sum(v) for v in daily["by_channel"].values()) == len(ids)
            heat = await _get(client, "/api/stats/heatmap")
            assert sum(map(sum, heat["cells"])) == len(ids)
            # Asking for another line gives nothing rather than its figures.
            other = newyork if login == "olga" else berlin
            page = await _get(client, f"/api/stats/dialogs?line_id={other}")
            assert page["rows"] == []
        finally:
            await client.close()


async def _check_bad_filters(console: Console) -> None:
    client = await console.client("ann")
    try:
        for query, field in [
            ("from=2026-02-30", "from"),
            ("from=2026-03-02&to=2026-03-01", "to"),
            ("status=lost", "status"),
            ("rating_min=0", "rating_min"),
            ("rating_min=4&rating_max=2", "rating_max"),
            ("hour=24", "hour"),
            ("weekday=x", "weekday"),
            ("line_id=abc", "line_id"),
            ("sort=name", "sort"),
            ("limit=0", "limit"),
            ("after=bm9wZQ", "after"),
            ("colour=red", "colour"),
        ]:
            for path in ("/api/stats/dialogs", "/api/stats/dialogs.csv", "/api/stats/summary"):
                if path != "/api/stats/dialogs" and field in ("sort", "limit", "after"):
                    continue
                status, body = await client.call("GET", f"{path}?{query}")
                assert status == 400 and body["error"].startswith(f"{field}:"), (path, query, body)
        status, body = await client.call("GET", "/api/stats/summary?group_by=client")
        assert status == 400 and body["error"].startswith("group_by:")
        status, body = await client.call("GET", "/api/stats/heatmap?sort=rating")
        assert status == 400 and body["error"].startswith("sort:")
        status, document = await client.call("GET", "/api/openapi.json")
        assert status == 200 and "/api/stats/heatmap" in document["paths"]
    finally:
        await client.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_far_off_dates_answer_quickly_and_dates_off_the_calendar_are_a_400(
    console: Console,
) -> None:
    """``to=3468-11-04`` alone once probed a thousand years of UTC offsets on the event loop,
    and ``from=0001-01-01`` overflowed ``datetime``: a 500."""
    await console.person("ann", "analyst")
    client = await console.client("ann")
    try:
        for path in ("dialogs", "dialogs.csv", "summary", "daily", "heatmap"):
            for query in ("to=9998-12-31", "from=9998-12-31", "day=1970-01-01&weekday=3"):
                url = f"{client.base}/api/stats/{path}?{query}"
                # CPU rather than wall time: a machine that stalls the whole process for a few
                # seconds must not fail this, a report that walks the years must.
                spent = time.process_time()
                async with asyncio.timeout(60), client.http.get(url) as resp:
                    await resp.read()
                spent = time.process_time() - spent
                assert resp.status == 200, (path, query)
                assert spent < 2.0, (path, query, spent)
            for query, field in [("from=0001-01-01", "from"), ("to=9999-12-31", "to"),
                                 ("day=1969-12-31", "day")]:  # fmt: skip
                status, body = await client.call("GET", f"/api/stats/{path}?{query}")
                assert status == 400 and body["error"].startswith(f"{field}:"), (path, body)
    finally:
        await client.close()
