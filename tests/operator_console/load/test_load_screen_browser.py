"""The live load screen as an admin watches it: queue cards and operator rows at 1280×800, a
new client appearing in the queue without a reload, the oldest wait ticking, a long wait
highlighted, text at 4.5:1 in both colour schemes, and the same screen on a 375×667 phone.

Screenshots go to ``OPENLINES_SHOTS`` when it is set.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, ViewportSize, expect
from sqlalchemy import delete, update

from core.db import SessionMaker
from core.db.schema import Line, LineOperator
from core.envelope import utcnow
from tests.support.console_page import (
    DESKTOP,
    PHONE,
    bad_text_nodes,
    box,
    inside,
    low_contrast_text,
    sign_in,
)
from tests.support.console_world import World, add_dialog
from tests.support.hubclient import VisitorClient

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(90),
]


async def shot(page: Page, name: str) -> None:
    folder = os.environ.get("OPENLINES_SHOTS")
    if folder:
        size = page.viewport_size
        assert size is not None
        await page.screenshot(path=Path(folder) / f"{name}-{size['width']}x{size['height']}.png")


async def test_the_load_screen_shows_a_new_waiting_client_live_and_fits_a_phone(
    hub: str, db: SessionMaker, world: World, new_page: NewPage
) -> None:
    # Nobody online on the demo line, so its clients wait; a Sales client has waited too long.
    # Sales operators may hold three dialogs, Olga four on the demo line.
    async with db() as s, s.begin():
        await s.execute(delete(LineOperator).where(LineOperator.operator_id == 1))
        await s.execute(
            update(Line).where(Line.id == world.sales_line).values(settings={"max_per_operator": 3})
        )
        await s.execute(
            update(LineOperator)
            .where(LineOperator.operator_id == world.ids["olga"])
            .values(max_open_dialogs=4)
        )
    await add_dialog(
        db,
        world.ids["sales_tg"],
        world.sales_line,
        "Вера Долгождущая",
        ["ау?"],
        operator_id=None,
        status="waiting",
        at=utcnow() - timedelta(minutes=7),
    )
    page = await new_page("admin", viewport=DESKTOP)
    await sign_in(page, hub)
    await page.locator('[data-ol="nav-load"]').click()

    demo = page.locator(f'[data-ol="load-line"][data-line-id="{world.demo_line}"]')
    sales = page.locator(f'[data-ol="load-line"][data-line-id="{world.sales_line}"]')
    await expect(demo.locator('[data-ol="load-waiting"]')).to_have_text("0")
    await expect(sales.locator('[data-ol="load-waiting"]')).to_have_text("1")
    await expect(sales).to_have_class("load-queue load-queue--long")
    await expect(sales.locator('[data-ol="load-long"]')).to_contain_text("Вера Долгождущая")
    await expect(demo).to_have_class("load-queue")
    rows = page.locator('[data-ol="load-operator"]')
    await expect(rows).to_have_count(3)
    olga = rows.filter(has_text="Olga")
    await expect(olga.locator('[data-ol="load-count"]')).to_have_text("1 / 4")
    fill, bar = await box(olga.locator(".load-bar-fill")), await box(olga.locator(".load-bar"))
    assert fill["width"] == pytest.approx(bar["width"] / 4, abs=3)
    await expect(olga.locator(".load-dot")).to_have_attribute("data-status", "offline")
    # The two cards sit side by side and the rows span the screen.
    demo_box, sales_box = await box(demo), await box(sales)
    assert demo_box["y"] == sales_box["y"] and demo_box["width"] >= 240
    assert (await box(rows.first))["width"] > 1000

    visitor = VisitorClient(hub)
    try:
        await visitor.connect()
        await visitor.say("Hello, is anyone there?")
        # No reload: the socket's load frame brings the new client in.
        await expect(demo.locator('[data-ol="load-waiting"]')).to_have_text("1", timeout=8000)
        oldest = demo.locator('[data-ol="load-oldest"]')
        first = await oldest.text_content()
        assert first is not None and first.endswith(" s")
        await expect(oldest).not_to_have_text(first, timeout=3000)
        assert await bad_text_nodes(page) == []
        assert await low_contrast_text(page) == []
        await shot(page, "load")
        # Without motion the colours switch at once: no contrast is read mid-transition.
        await page.emulate_media(color_scheme="dark", reduced_motion="reduce")
        assert await low_contrast_text(page) == []
        await shot(page, "load-dark")
        await page.emulate_media(color_scheme="light", reduced_motion="reduce")

        await page.set_viewport_size(ViewportSize(width=PHONE["width"], height=PHONE["height"]))
        phone_demo, phone_sales = await box(demo), await box(sales)
        assert phone_sales["y"] > phone_demo["y"] and inside(phone_demo, PHONE)
        scroll_width = await page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= PHONE["width"]
        await shot(page, "load")
        await page.locator('[data-ol="load-operators"]').scroll_into_view_if_needed()
        assert inside(await box(olga.locator('[data-ol="load-count"]')), PHONE)
    finally:
        await visitor.close()
