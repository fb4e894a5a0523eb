"""The statistics screen's state is in its address: filters, the figures' tab, the
drill-down and the table's order. Back and Forward walk the states, a reload keeps the report,
and a shared address opens the same report for an analyst at 1280×800 and for a manager on a
375×667 phone, after signing in."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.async_api import Page, expect

from core.db import SessionMaker
from tests.operator_console.test_stats_browser import SHOTS, NewPage, _card, _charts_drawn, _seed
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


async def _sign_in_at(page: Page, address: str, login: str) -> None:
    """Open ``address`` signed out, and sign in on the form it shows."""
    await page.goto(address)
    await page.locator('[data-ol="login"]').fill(login)
    await page.locator('[data-ol="password"]').fill("pw-" + login)
    await page.locator('[data-ol="login-submit"]').click()


def _state(page: Page) -> dict[str, str]:
    fragment = urlsplit(page.url).fragment
    assert fragment.startswith("/stats"), page.url
    return dict(parse_qsl(fragment.partition("?")[2], keep_blank_values=True))


async def _shows_the_shared_report(page: Page, sales: int) -> None:
    """What the shared address names is on screen: the Sales line, in-hours figures, the
    missed dialogs drill-down with its one row, sorted by rating."""
    await expect(page.locator('[data-ol="stats"]')).to_be_visible()
    await expect(page.locator('[data-ol="stats-filter-line_id"]')).to_have_value(str(sales))
    await expect(page.locator('[data-ol="stats-part-in_hours"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(_card(page, "dialogs")).to_have_text("2")
    await expect(page.locator('[data-ol="stats-table"] h3')).to_have_text(
        "Missed dialogs, in hours"
    )
    rows = page.locator('[data-ol="stats-row"]')
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text(["Olga Sales"])
    href = await page.locator('[data-ol="stats-csv"]').get_attribute("href")
    csv = dict(parse_qsl(urlsplit(href or "").query))
    assert (csv["line_id"], csv["missed"], csv["in_hours"]) == (str(sales), "true", "true")
    assert (csv["sort"], csv["order"]) == ("rating", "desc")
    await _charts_drawn(page)
    assert await bad_text_nodes(page) == []


async def _screenshots(page: Page, name: str) -> None:
    """The head of the screen (filters and figures), then the table with its drill-down."""
    await page.locator('[data-ol="stats-scope"]').scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / f"shared-address-{name}.png"))
    await page.locator('[data-ol="stats-table"]').scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / f"shared-address-{name}-table.png"))


async def test_a_shared_statistics_address_opens_the_same_report(
    hub: str, new_page: NewPage, db: SessionMaker
) -> None:
    ids = await _seed(db)
    sales = ids["sales"]
    page = await new_page("analyst", viewport=DESKTOP, reduced_motion="reduce")
    await _sign_in_at(page, f"{hub}/", "ana")
    rows = page.locator('[data-ol="stats-row"]')
    title = page.locator('[data-ol="stats-table"] h3')
    await expect(rows).to_have_count(5)
    landing = _state(page)
    assert landing["from"] and landing["to"]  # the dates are named, so a link keeps them

    await page.locator('[data-ol="stats-filter-line_id"]').select_option(str(sales))
    await expect(rows).to_have_count(2)
    await page.locator('[data-ol="stats-part-in_hours"]').click()
    await page.locator('[data-ol="stats-card"][data-card="missed"]').click()
    await expect(rows).to_have_count(1)
    await page.locator('[data-ol="stats-sort"][data-sort="rating"]').click()
    await expect(page).to_have_url(re.compile(r"sort=rating"))
    shared = page.url
    state = _state(page)
    assert state["line_id"] == str(sales)
    assert (state["part"], state["drill"]) == ("in_hours", "Missed dialogs, in hours")
    assert (state["d.missed"], state["d.in_hours"]) == ("true", "true")

    # Back and Forward walk the states; the last Back is the landing report.
    await page.go_back()
    await expect(title).to_have_text("Missed dialogs, in hours")
    assert "sort" not in _state(page)
    await page.go_back()
    await expect(title).to_have_text("Dialogs")
    await expect(rows).to_have_count(2)
    await page.go_forward()
    await expect(title).to_have_text("Missed dialogs, in hours")
    await expect(rows).to_have_count(1)
    for _ in range(2):
        await page.go_back()
    await expect(page.locator('[data-ol="stats-part-in_hours"]')).to_have_attribute(
        "aria-pressed", "false"
    )
    await page.go_back()
    await expect(page.locator('[data-ol="stats-filter-line_id"]')).to_have_value("")
    await expect(rows).to_have_count(5)
    assert _state(page) == landing

    # A reload of the shared address shows the report it names.
    await page.goto(shared)
    await page.reload()
    await _shows_the_shared_report(page, sales)
    await _screenshots(page, "desktop")

    # The link, opened signed out on a phone by the Sales line's manager.
    phone = await new_page(
        "manager", viewport=PHONE, is_mobile=True, has_touch=True, reduced_motion="reduce"
    )
    await _sign_in_at(phone, shared, "mara")
    await _shows_the_shared_report(phone, sales)
    await _screenshots(phone, "phone")
