"""The rating a visitor is asked for when an operator closes the chat: one card with a row of
stars and an optional comment, the same after a reload until it is answered, then a thank-you.
The web chat never also gets the "reply with a number" text that channels without buttons get.

Screenshots of each state go to ``$OPENLINES_SHOTS`` when that is set.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize, expect

from config.settings import Settings
from tests.support.admin import ADMIN_PASSWORD
from tests.support.axe import axe_violations
from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import DESKTOP, PHONE, box
from tests.support.hubclient import OperatorClient
from tests.support.widget_page import (
    HOST,
    bad_widget_text,
    focused_hook,
    part,
    set_line_settings,
    shot,
    visitor_writes,
    widget,
    widget_page,
)

PHONE_SIZE = ViewportSize(width=PHONE["width"], height=PHONE["height"])
DESKTOP_SIZE = ViewportSize(width=DESKTOP["width"], height=DESKTOP["height"])
COMMENT = "<b>Quick</b> & kind"

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


@pytest.fixture
async def admin(hub: str) -> AsyncIterator[OperatorClient]:
    client = OperatorClient(hub)
    await client.login("admin", ADMIN_PASSWORD)
    yield client
    await client.close()


async def dialog_of_visitor(admin: OperatorClient, status: str = "open") -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            code, body = await admin.call("GET", f"/api/dialogs?status={status}")
            assert code == 200, body
            if body["dialogs"]:
                dialog: dict[str, Any] = body["dialogs"][0]
                return dialog
            await asyncio.sleep(0.05)


async def stored_rating(admin: OperatorClient, dialog_id: int) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            code, body = await admin.call("GET", f"/api/dialogs/{dialog_id}")
            assert code == 200, body
            view: dict[str, Any] = body.get("dialog", body)
            if view.get("rating") is not None:
                return view
            await asyncio.sleep(0.05)


async def assert_one_horizontal_row_of_stars(page: Page) -> None:
    stars = part(page, "rating").locator("button[data-rating]")
    await expect(stars).to_have_count(5)
    boxes = [await box(stars.nth(i)) for i in range(5)]
    for left, right in itertools.pairwise(boxes):
        assert abs(left["y"] - right["y"]) < 1, f"stars are not in one row: {boxes}"
        assert left["x"] + left["width"] <= right["x"] + 0.5, f"stars overlap: {boxes}"
    card = await box(part(page, "rating"))
    assert card["x"] >= 0 and card["x"] + card["width"] <= page.viewport_size["width"]  # type: ignore[index]


async def test_one_star_card_that_survives_a_reload_until_answered(
    hub: str, settings: Settings, admin: OperatorClient, new_page: NewPage
) -> None:
    await set_line_settings(settings, rating="stars")
    visitor = await widget_page(new_page, hub)
    await visitor_writes(visitor, "Thanks, that is all I needed")
    dialog = await dialog_of_visitor(admin)
    code, body = await admin.call("POST", f"/api/dialogs/{dialog['id']}/close")
    assert code == 202, body

    # One prompt: the card, and no "reply with a number" text beside it.
    card = part(visitor, "rating")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Please rate the conversation")
    await expect(widget(visitor).locator('[data-ol="rating"]')).to_have_count(1)
    system = widget(visitor).locator('[data-ol="message"][data-author="system"]')
    await expect(system.filter(has_text=re.compile("closed", re.I))).to_have_count(1)
    await expect(system.filter(has_text=re.compile("number|1 to 5", re.I))).to_have_count(0)
    await assert_one_horizontal_row_of_stars(visitor)
    await expect(part(visitor, "rating-send")).to_be_disabled()
    assert await axe_violations(visitor, HOST) == []
    await shot(visitor, "rating-asked-desktop")

    # A reload shows the same card again, and only once.
    await visitor.reload()
    await expect(part(visitor, "panel")).to_be_visible()
    await expect(card).to_be_visible()
    await expect(widget(visitor).locator('[data-ol="rating"]')).to_have_count(1)
    await visitor.set_viewport_size(PHONE_SIZE)
    await assert_one_horizontal_row_of_stars(visitor)
    await expect(card).to_be_in_viewport()
    await shot(visitor, "rating-asked-phone")
    await visitor.set_viewport_size(DESKTOP_SIZE)

    # Four stars and a comment; the comment is text, never markup.
    four = card.locator('button[data-rating="4"]')
    await four.click()
    await expect(four).to_have_attribute("aria-pressed", "true")
    await expect(card.locator("button.on")).to_have_count(4)
    await part(visitor, "rating-comment").fill(COMMENT)
    await shot(visitor, "rating-chosen-desktop")
    await part(visitor, "rating-send").click()
    await expect(card).to_have_text("Thank you for your rating!")
    await expect(card.locator("button")).to_have_count(0)
    assert await focused_hook(visitor) == "input", "focus left the widget with the card's button"
    await shot(visitor, "rating-thanks-desktop")
    view = await stored_rating(admin, dialog["id"])
    assert (view["rating"], view["rating_comment"]) == (4, COMMENT)
    assert await bad_widget_text(visitor) == []

    # Answered: a reload asks no more.
    await visitor.reload()
    await expect(part(visitor, "panel")).to_be_visible()
    await expect(system.filter(has_text="Thanks, that is all I needed")).to_have_count(0)
    await expect(
        widget(visitor).locator('[data-ol="message"][data-author="visitor"]')
    ).to_have_count(1)
    await expect(widget(visitor).locator('[data-ol="rating"]')).to_have_count(0)
    await visitor.set_viewport_size(PHONE_SIZE)
    await shot(visitor, "rating-answered-phone")
