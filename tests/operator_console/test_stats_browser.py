"""The statistics screen as a person sees it: an analyst lands on it at 1280×800 and a manager
opens it on a 375×667 phone. Every chart is drawn on a canvas of real size with data points,
the figure cards show the seeded numbers, the manager sees only their line, a click on a
figure, a heatmap cell or a bar fills the table with the dialogs behind it, the CSV link asks
for exactly what is on screen, a row opens the dialog's history, and no "null" shows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.async_api import Page, expect

from core.db import SessionMaker
from core.db.schema import (
    Channel,
    Client,
    ClientIdentity,
    Dialog,
    Line,
    LineOperator,
    Message,
    Operator,
)
from core.envelope import utcnow
from operator_console.auth import hash_password
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, box, low_contrast_text

SHOTS = Path("/tmp/shots/stats")

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]

CHARTS = ("daily", "response", "heatmap", "operators")


async def _person(db: SessionMaker, login: str, role: str, line_id: int | None) -> int:
    async with db() as s, s.begin():
        person = Operator(
            login=login, name=login.title(), role=role, password_hash=hash_password("pw-" + login)
        )
        s.add(person)
        await s.flush()
        if line_id is not None:
            s.add(LineOperator(line_id=line_id, operator_id=person.id, position=5))
        return person.id


async def _dialog(
    db: SessionMaker, line_id: int, channel_id: int, client: str, opened: datetime, **fields: Any
) -> int:
    """A closed dialog of a new client with one client message and, when answered, a reply."""
    answer_s = fields.pop("answer_s", None)
    async with db() as s, s.begin():
        person = Client(name=client)
        s.add(person)
        await s.flush()
        identity = ClientIdentity(
            client_id=person.id, channel_id=channel_id, external_id=f"ext-{person.id}"
        )
        s.add(identity)
        await s.flush()
        answered = opened + timedelta(seconds=answer_s) if answer_s is not None else None
        dialog = Dialog(
            line_id=line_id,
            channel_id=channel_id,
            client_id=person.id,
            identity_id=identity.id,
            status="closed",
            opened_at=opened,
            first_response_at=answered,
            closed_at=opened + timedelta(minutes=30),
            last_message_at=opened + timedelta(minutes=20),
            began_in_hours=True,
            client_messages=1,
            operator_messages=1 if answered else 0,
            **fields,
        )
        s.add(dialog)
        await s.flush()
        s.add(
            Message(
                dialog_id=dialog.id,
                channel_id=channel_id,
                author="client",
                author_name=client,
                text=f"Question from {client}",
                created_at=opened,
            )
        )
        if answered is not None:
            s.add(
                Message(
                    dialog_id=dialog.id,
                    channel_id=channel_id,
                    author="operator",
                    operator_id=fields.get("operator_id"),
                    author_name="Operator",
                    text="Here is the answer",
                    created_at=answered,
                )
            )
        return dialog.id


async def _seed(db: SessionMaker) -> dict[str, int]:
    """The demo line (web chat) with operator olga and three dialogs, one missed; the Sales
    line (Telegram) with operator petr, manager mara and two dialogs, one missed; and an
    analyst, ana. The dialogs began two days ago, from 10:00 UTC; the missed ones at 13:00."""
    async with db() as s, s.begin():
        sales = Line(key="sales", name="Sales", settings={})
        s.add(sales)
        await s.flush()
        tg = Channel(
            line_id=sales.id, kind="telegram", key="sales-tg", name="Sales bot", enabled=False
        )
        s.add(tg)
        await s.flush()
        sales_id, tg_id = sales.id, tg.id
    ids = {
        "olga": await _person(db, "olga", "operator", 1),
        "petr": await _person(db, "petr", "operator", sales_id),
        "mara": await _person(db, "mara", "manager", sales_id),
        "ana": await _person(db, "ana", "analyst", None),
    }
    day = (utcnow() - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    olga, petr = ids["olga"], ids["petr"]
    answered = {"outcome": "answered", "closed_by": "operator"}
    missed = {"outcome": "missed", "closed_by": "auto", "operator_id": None}
    for line, channel, client, minutes, fields in (
        (1, 1, "Anna Demo", 0, {**answered, "operator_id": olga, "answer_s": 60, "rating": 5}),
        (1, 1, "Boris Demo", 5, {**answered, "operator_id": olga, "answer_s": 120, "rating": 4}),
        (1, 1, "Vera Demo", 180, missed),
        (
            sales_id,
            tg_id,
            "Ivan Sales",
            10,
            {**answered, "operator_id": petr, "answer_s": 300, "rating": 2},
        ),
        (sales_id, tg_id, "Olga Sales", 185, missed),
    ):
        await _dialog(db, line, channel, client, day + timedelta(minutes=minutes), **fields)
    ids["sales"] = sales_id
    return ids


async def _sign_in(page: Page, hub: str, login: str) -> None:
    await page.goto(f"{hub}/")
    await page.locator('[data-ol="login"]').fill(login)
    await page.locator('[data-ol="password"]').fill("pw-" + login)
    await page.locator('[data-ol="login-submit"]').click()


def _card(page: Page, name: str) -> Any:
    return page.locator(f'[data-ol="stats-card"][data-card="{name}"] [data-ol="stats-card-value"]')


# How many non-zero data points the chart on a canvas holds, from Chart.js' own data.
_CHART_POINTS = """(name) => {
  const canvas = document.querySelector(`[data-ol="stats-chart-${name}"]`);
  const chart = canvas && window.Chart && Chart.getChart(canvas);
  if (!chart) return 0;
  return chart.data.datasets.reduce((n, d) => n + d.data.filter((v) =>
    v !== null && v !== 0 && (typeof v !== "object" || v.v > 0)).length, 0);
}"""


async def _charts_drawn(page: Page) -> None:
    """Every chart is on a canvas of real size and holds data points."""
    for name in CHARTS:
        await page.wait_for_function(_CHART_POINTS, arg=name)
        canvas = page.locator(f'[data-ol="stats-chart-{name}"]')
        await canvas.scroll_into_view_if_needed()
        shape = await box(canvas)
        assert shape["width"] > 100 and shape["height"] > 100, (name, shape)


def _shown_filters(query: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in query.items() if k not in ("sort", "order")}


async def _csv_query(page: Page) -> dict[str, str]:
    href = await page.locator('[data-ol="stats-csv"]').get_attribute("href")
    assert href is not None
    parts = urlsplit(href)
    assert parts.path == "/api/stats/dialogs.csv"
    return dict(parse_qsl(parts.query))


async def _on_screen_filters(page: Page) -> dict[str, str]:
    values: dict[str, str] = await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-ol^="stats-filter-"]')]
             .map((c) => [c.name, c.value]).filter(([, v]) => v !== ""))"""
    )
    return values


async def _click_point(page: Page, name: str, dataset: int, index: int) -> None:
    """Click the chart element `index` of `dataset`, where Chart.js drew it."""
    x, y = await page.evaluate(
        """([name, dataset, index]) => {
          const chart = Chart.getChart(document.querySelector(`[data-ol="stats-chart-${name}"]`));
          const element = chart.getDatasetMeta(dataset).data[index];
          const at = element.getCenterPoint ? element.getCenterPoint() : element;
          return [at.x, at.y];
        }""",
        [name, dataset, index],
    )
    canvas = page.locator(f'[data-ol="stats-chart-{name}"]')
    await canvas.scroll_into_view_if_needed()
    await canvas.click(position={"x": x, "y": y})


async def test_analyst_lands_on_statistics_and_drills_into_every_figure(
    hub: str, new_page: NewPage, db: SessionMaker
) -> None:
    ids = await _seed(db)
    page = await new_page("analyst", viewport=DESKTOP, reduced_motion="reduce")
    await _sign_in(page, hub, "ana")
    screen = page.locator('[data-ol="stats"]')
    await expect(screen).to_be_visible()
    await expect(page.locator('[data-ol="nav-dialogs"]')).to_be_hidden()
    await expect(page.locator('[data-ol="presence"]')).to_be_hidden()

    await expect(_card(page, "dialogs")).to_have_text("5")
    await expect(_card(page, "missed")).to_have_text("2")
    await expect(_card(page, "csat")).to_have_text("67 %")
    await expect(_card(page, "rating")).to_have_text("3.7")
    await _charts_drawn(page)
    rows = page.locator('[data-ol="stats-row"]')
    await expect(rows).to_have_count(5)

    # Every dialog began in working hours; business time asks the figures again.
    await page.locator('[data-ol="stats-part-out_of_hours"]').click()
    await expect(_card(page, "dialogs")).to_have_text("0")
    await page.locator('[data-ol="stats-part-in_hours"]').click()
    await expect(_card(page, "dialogs")).to_have_text("5")
    async with page.expect_response(lambda r: "business_time=true" in r.url):
        await page.locator('[data-ol="stats-business-time"]').check()
    await expect(_card(page, "frt_p90")).to_have_text("5 min")
    await page.locator('[data-ol="stats-part-total"]').click()

    # The CSV asks for what the screen shows, after a sort and a filter too.
    assert _shown_filters(await _csv_query(page)) == await _on_screen_filters(page)
    await page.locator('[data-ol="stats-sort"][data-sort="rating"]').click()
    await page.locator('[data-ol="stats-filter-line_id"]').select_option(str(ids["sales"]))
    await expect(rows).to_have_count(2)
    query = await _csv_query(page)
    assert (query["sort"], query["order"]) == ("rating", "desc")
    assert _shown_filters(query) == await _on_screen_filters(page)
    assert query["line_id"] == str(ids["sales"])
    await page.locator('[data-ol="stats-reset"]').click()
    await expect(rows).to_have_count(5)

    # Drill-downs: the missed card, an operator's bar, a heatmap cell.
    await page.locator('[data-ol="stats-card"][data-card="missed"]').click()
    await expect(rows).to_have_count(2)
    assert (await _csv_query(page))["missed"] == "true"
    await page.locator('[data-ol="stats-drill-clear"]').click()
    await expect(rows).to_have_count(5)
    title = page.locator('[data-ol="stats-table"] h3')
    await _click_point(page, "operators", 0, 0)
    await expect(title).to_have_text("Dialogs of Olga")
    await expect(rows).to_have_count(2)
    await expect(rows).to_contain_text(["Boris Demo", "Anna Demo"])
    assert (await _csv_query(page))["operator_id"] == str(ids["olga"])
    cell = 24 * ((utcnow() - timedelta(days=2)).weekday()) + 13
    await _click_point(page, "heatmap", 0, cell)
    await expect(title).to_contain_text("Dialogs started")
    await expect(rows).to_contain_text(["Olga Sales", "Vera Demo"])
    query = await _csv_query(page)
    assert (query["hour"], query["weekday"]) == ("13", str(cell // 24))

    # Without a mouse: Tab reaches a chart, the arrows walk its bars, Enter drills down.
    await page.locator('[data-ol="stats-drill-clear"]').click()
    operators = page.locator('[data-ol="stats-chart-operators"]')
    await operators.focus()
    await expect(operators).to_be_focused()
    await page.keyboard.press("ArrowRight")
    await expect(page.locator('[data-ol="stats-chart-said"]')).to_have_text("Olga, Dialogs: 2")
    await operators.screenshot(path=str(SHOTS / "operators-chart-keyboard.png"))
    await page.keyboard.press("Enter")
    await expect(title).to_have_text("Dialogs of Olga")
    await expect(rows).to_have_count(2)

    # A row opens the dialog's history beside the table, read only.
    await rows.first.locator('[data-ol="stats-open"]').click()
    history = page.locator('[data-ol="stats-history"]')
    await expect(history.locator('[data-ol="crm-history-message"]').first).to_contain_text(
        "Question from"
    )
    await expect(history.locator('[data-ol="stats-open-dialog"]')).to_have_count(0)
    await history.locator('[data-ol="crm-history-back"]').click()
    await expect(history).to_be_hidden()
    assert await bad_text_nodes(page) == []
    assert await low_contrast_text(page) == []


async def test_manager_on_a_phone_sees_only_their_line(
    hub: str, new_page: NewPage, db: SessionMaker
) -> None:
    await _seed(db)
    page = await new_page(
        "manager", viewport=PHONE, is_mobile=True, has_touch=True, reduced_motion="reduce"
    )
    await _sign_in(page, hub, "mara")
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
    await page.locator('[data-ol="nav-toggle"]').click()
    await page.locator('[data-ol="nav-stats"]').click()
    await expect(page.locator('[data-ol="stats-scope"]')).to_have_text("The lines you manage")
    await expect(_card(page, "dialogs")).to_have_text("2")
    await expect(_card(page, "missed")).to_have_text("1")
    await expect(_card(page, "rating")).to_have_text("2.0")
    lines = page.locator('[data-ol="stats-filter-line_id"] option')
    await expect(lines).to_have_text(["Every line", "Sales"])
    rows = page.locator('[data-ol="stats-row"]')
    await expect(rows).to_have_count(2)
    await expect(rows).to_contain_text(["Sales", "Sales"])
    await expect(page.locator('[data-ol="stats-table"]')).not_to_contain_text("Demo")
    await _charts_drawn(page)
    # Nothing of the top bar or the screen is wider than the phone: the table is a card per
    # dialog, sorted from a list of its own.
    wide: list[str] = await page.evaluate(
        """() => [...document.querySelectorAll('.topbar > *, #stats-screen *')]
             .filter((n) => n.getBoundingClientRect().right > innerWidth + 1)
             .map((n) => n.className || n.tagName)"""
    )
    assert wide == []
    await page.locator('[data-ol="stats-sort-select"]').select_option("rating:asc")
    await expect(rows.first).to_contain_text("Ivan Sales")
    assert (await _csv_query(page))["order"] == "asc"
    await _click_point(
        page,
        "daily",
        0,
        (
            await page.evaluate(
                """() => Chart.getChart(document.querySelector('[data-ol="stats-chart-daily"]'))
             .data.datasets[0].data.findIndex((v) => v > 0)"""
            )
        ),
    )
    await expect(page.locator('[data-ol="stats-table"] h3')).to_contain_text("Dialogs of")
    assert "day" in await _csv_query(page)
    await expect(rows).to_have_count(2)
    assert await bad_text_nodes(page) == []
    assert await low_contrast_text(page) == []

    # A manager goes on from the history to the conversation itself.
    await rows.filter(has_text="Ivan Sales").locator('[data-ol="stats-open"]').click()
    history = page.locator('[data-ol="stats-history"]')
    await expect(history.locator('[data-ol="crm-history-message"]')).to_have_count(2)
    await history.locator('[data-ol="stats-open-dialog"]').click()
    await expect(page.locator('[data-ol="conv-name"]')).to_have_text("Ivan Sales")
    await expect(page.locator('[data-ol="messages"]')).to_contain_text("Here is the answer")
    await expect(page.locator('[data-ol="stats"]')).to_be_hidden()

    # Back on the statistics, the filters still offer the manager's line.
    await page.locator('[data-ol="nav-toggle"]').click()
    await page.locator('[data-ol="nav-stats"]').click()
    await expect(_card(page, "dialogs")).to_have_text("2")
    await expect(lines).to_have_text(["Every line", "Sales"])
