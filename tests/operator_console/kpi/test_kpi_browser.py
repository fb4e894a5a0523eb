"""The KPI screens in a real browser: the board's green and red cells with how far off, the
plan editor, the rating and the weights for an admin, and an operator's own card; at
1280×800 and 375×667, with screenshots."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, ViewportSize, expect

from core.db import SessionMaker
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.console_page import (
    DESKTOP,
    PHONE,
    bad_text_nodes,
    low_contrast_text,
    sign_in,
)
from tests.support.hubclient import OperatorClient
from tests.support.kpi_world import (
    PASSWORD,
    KpiWorld,
    expected_facts,
    in_week,
    seed_kpi_world,
)

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(120),
]

SHOTS = Path("/tmp/shots/kpi")
GREEN_SOFT, GREEN = "rgb(233, 247, 238)", "rgb(22, 101, 52)"
RED_SOFT, RED = "rgb(253, 238, 238)", "rgb(194, 38, 46)"


async def open_kpi(page: Page, phone: bool) -> None:
    if phone:
        await page.locator('[data-ol="nav-toggle"]').click()
    await page.locator('[data-ol="nav-kpi"]').click()
    # Before any choice the picker names a day of the current period, never nothing.
    picker = page.locator('[data-ol="kpi-date"]')
    await expect(picker).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    await page.locator('[data-ol="kpi-date"]').fill("2026-03-05")
    await expect(page.locator('[data-ol="kpi-range"]')).to_have_text("2026-03-02 – 2026-03-08")


@pytest.fixture(autouse=True)
def shots_folder() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)


async def shoot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert await bad_text_nodes(page) == [], name
    assert await low_contrast_text(page) == [], name


async def test_board_shows_met_green_and_missed_red_with_how_far_off(
    hub: str, db: SessionMaker, new_page: NewPage
) -> None:
    world: KpiWorld = await seed_kpi_world(db, seed=4)
    olga_done = expected_facts(world, "olga")["dialogs"]
    petr_done = expected_facts(world, "petr")["dialogs"]
    admin = OperatorClient(hub)
    await admin.login("admin", "admin-password-1")
    for body in (
        {"kind": "dialogs", "target": olga_done, "operator_id": world.ids["olga"]},
        {"kind": "dialogs", "target": petr_done + 5, "operator_id": world.ids["petr"]},
    ):
        status, answer = await admin.call("PUT", "/api/kpi/plans", {"period": "week", **body})
        assert status == 200, answer
    status, answer = await admin.call(
        "PUT",
        f"/api/kpi/coverage/clients/{world.clients[0]}",
        {"key_client": False, "responsible_id": world.ids["olga"]},
    )
    assert status == 200, answer
    await admin.close()

    page = await new_page("admin", viewport=DESKTOP)
    await sign_in(page, hub)
    await open_kpi(page, phone=False)
    met = page.locator(
        f'[data-ol="kpi-row"][data-operator-id="{world.ids["olga"]}"] '
        '[data-ol="kpi-cell"][data-kind="dialogs"]'
    )
    missed = page.locator(
        f'[data-ol="kpi-row"][data-operator-id="{world.ids["petr"]}"] '
        '[data-ol="kpi-cell"][data-kind="dialogs"]'
    )
    await expect(met).to_have_attribute("data-verdict", "met")
    await expect(met).to_contain_text("Met")
    await expect(missed).to_have_attribute("data-verdict", "missed")
    await expect(missed).to_contain_text("5 short")
    assert await met.evaluate("(n) => getComputedStyle(n).backgroundColor") == GREEN_SOFT
    assert await met.evaluate("(n) => getComputedStyle(n).color") == GREEN
    assert await missed.evaluate("(n) => getComputedStyle(n).backgroundColor") == RED_SOFT
    assert await missed.evaluate("(n) => getComputedStyle(n).color") == RED
    await shoot(page, "board-desktop")

    # The plan editor: the admin sets a group's plan, which shows on its member's row.
    await page.locator('[data-ol="kpi-tab-plans"]').click()
    await page.locator('[data-ol="plan-target"]').select_option(f"g{world.ids['south']}")
    await page.locator('[data-ol="plan-kind"]').select_option("crm_points")
    await page.locator('[data-ol="plan-value"]').fill("1000")
    await page.locator('[data-ol="plan-save"]').click()
    await expect(page.locator('[data-ol="plan-row"]')).to_have_count(3)
    await expect(page.locator('[data-ol="plan-row"]').last).to_contain_text("Group south")
    await shoot(page, "plans-desktop")
    # The hub's reason shows beside the form.
    await page.locator('[data-ol="plan-kind"]').select_option("rating_avg")
    await page.locator('[data-ol="plan-value"]').fill("7")
    await page.locator('[data-ol="plan-save"]').click()
    await expect(page.locator('[data-ol="plan-error"]')).to_have_text(
        "Not saved: target: an average rating is between 1 and 5"
    )

    await page.locator('[data-ol="kpi-tab-weights"]').click()
    await page.locator('[data-ol="weight-input"][data-kind="lead"]').fill("4")
    await page.locator('[data-ol="weights-save"]').click()
    await expect(page.locator('[data-ol="toast"]')).to_contain_text("Weights saved.")
    await shoot(page, "weights-desktop")
    await page.locator('[data-ol="kpi-tab-rating"]').click()
    await expect(page.locator('[data-ol="rating-row"]')).to_have_count(5)
    await shoot(page, "rating-desktop")

    # Coverage: the admin marks Olga's client a key client on its card.
    await page.locator('[data-ol="kpi-tab-coverage"]').click()
    await page.locator('[data-ol="coverage-client"]').click()
    await page.locator('[data-ol="coverage-key"]').check()
    await page.locator('[data-ol="coverage-save"]').click()
    await expect(page.locator('[data-ol="toast"]')).to_contain_text("Saved.")
    await expect(page.locator('[data-ol="coverage-client"] .kpi-key')).to_have_count(1)

    await page.set_viewport_size(ViewportSize(width=PHONE["width"], height=PHONE["height"]))
    await page.locator('[data-ol="kpi-tab-board"]').click()
    await expect(missed).to_contain_text("5 short")
    south = page.locator(
        f'[data-ol="kpi-row"][data-operator-id="{world.ids["petr"]}"] '
        '[data-ol="kpi-cell"][data-kind="crm_points"]'
    )
    await expect(south).to_have_attribute("data-verdict", "missed")
    await shoot(page, "board-phone")


async def test_an_operator_sees_their_own_card_rank_and_client_coverage(
    hub: str, db: SessionMaker, new_page: NewPage
) -> None:
    world = await seed_kpi_world(db, seed=4)
    admin = OperatorClient(hub)
    await admin.login("admin", "admin-password-1")
    for n in range(6):
        status, answer = await admin.call(
            "PUT",
            f"/api/kpi/coverage/clients/{world.clients[n]}",
            {"key_client": n % 3 == 0, "responsible_id": world.ids["olga"]},
        )
        assert status == 200, answer
    await admin.close()
    had = [in_week("olga", world.dialogs[n].opened_at) for n in range(6)]
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = await new_page(f"olga-{name}", viewport=viewport)
        await page.goto(f"{hub}/")
        await page.locator('[data-ol="login"]').fill("olga")
        await page.locator('[data-ol="password"]').fill(PASSWORD)
        await page.locator('[data-ol="login-submit"]').click()
        await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
        await open_kpi(page, phone=viewport == PHONE)
        card = page.locator('[data-ol="kpi-own-card"]')
        await expect(card).to_contain_text("Olga")
        await expect(page.locator('[data-ol="kpi-own-rank"]')).to_contain_text("of 5")
        await expect(page.locator('[data-ol="kpi-row"]')).to_have_count(0)
        dialogs = card.locator('[data-ol="kpi-cell"][data-kind="dialogs"] .kpi-fact')
        await expect(dialogs).to_have_text(str(expected_facts(world, "olga")["dialogs"]))
        await expect(page.locator('[data-ol="kpi-tab-plans"]')).to_have_count(0)
        await shoot(page, f"operator-card-{name}")
        await page.locator('[data-ol="kpi-tab-rating"]').click()
        await expect(page.locator('[data-ol="rating-row"]')).to_have_count(1)

        # Coverage: her clients in two lists; one click opens a client's card and history.
        await page.locator('[data-ol="kpi-tab-coverage"]').click()
        without = page.locator('[data-ol="coverage-without"] [data-ol="coverage-client"]')
        await expect(without).to_have_count(had.count(False))
        await expect(
            page.locator('[data-ol="coverage-with"] [data-ol="coverage-client"]')
        ).to_have_count(had.count(True))
        await expect(page.locator('[data-ol="coverage-client"] .kpi-key')).to_have_count(2)
        await shoot(page, f"coverage-{name}")
        await page.locator(
            f'[data-ol="coverage-client"][data-client-id="{world.clients[0]}"]'
        ).click()
        card = page.locator('[data-ol="coverage-card"]')
        await expect(card).to_contain_text("Client 0")
        await card.locator('[data-ol="crm-history-item"]').click()
        await expect(card.locator('[data-ol="crm-history-view"]')).to_contain_text("Read only")
        await shoot(page, f"coverage-card-{name}")
        await page.locator('[data-ol="coverage-back"]').click()
        await expect(without).to_have_count(had.count(False))
