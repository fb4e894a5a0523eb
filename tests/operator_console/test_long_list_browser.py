"""A supervisor's list of hundreds of open dialogs, as they see it: the list draws only the
items near its viewport, yet its scrollbar spans them all, scrolling shows the oldest dialog,
a new message brings a dialog from far down to the top, Alt+↓ walks past the drawn items and
keeps the chosen one in view, and screen readers are told each item's place in the whole list.

Screenshots go to ``OPENLINES_SHOTS`` when it is set, at 1280×800 and 375×667.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import FloatRect, Locator, Page, expect
from sqlalchemy import select

from core.db import SessionMaker
from core.db.schema import Client, ClientIdentity, Dialog
from core.envelope import utcnow
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.client_seed import add_open_dialog
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, box, sign_in
from tests.support.hubclient import VisitorClient

NewPage = Callable[..., Awaitable[Page]]
SEEDED = 300
# The list draws the viewport's items and 20 beyond each edge: far fewer than the dialogs.
MOST_DRAWN = 60

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(120),
]


async def seed(db: SessionMaker, before: float) -> None:
    """SEEDED open dialogs, each with one client message, all newer than ``before`` seconds
    ago: the newest is "Question 0"."""
    now = utcnow()
    async with db() as s, s.begin():
        for n in range(SEEDED):
            at = now - timedelta(seconds=before * n / SEEDED)
            client = Client(name=f"Client {n}")
            s.add(client)
            await s.flush()
            identity = ClientIdentity(client_id=client.id, channel_id=1, external_id=f"seed-{n}")
            s.add(identity)
            await s.flush()
            await add_open_dialog(s, identity, f"Question {n}", at)


def items(page: Page) -> Locator:
    return page.locator('[data-ol="dialog-list"] [data-ol="dialog"]')


async def within(item: Locator, list_box: FloatRect) -> None:
    """The item is drawn, and wholly inside the list's visible box."""
    found = await box(item)
    assert found["y"] >= list_box["y"] - 0.5, (found, list_box)
    assert found["y"] + found["height"] <= list_box["y"] + list_box["height"] + 0.5


async def shot(page: Page, name: str) -> None:
    folder = os.environ.get("OPENLINES_SHOTS")
    if folder:
        await page.screenshot(path=Path(folder) / f"{name}.png")


async def test_a_list_of_hundreds_draws_its_viewport_and_scrolls_through_them_all(
    hub: str, db: SessionMaker, new_page: NewPage, visitor: VisitorClient
) -> None:
    await visitor.say("Where is my order?")
    async with asyncio.timeout(10):
        async with db() as s:
            while not await s.scalar(select(Dialog.id).where(Dialog.client_id.is_not(None))):
                await asyncio.sleep(0.05)
    await asyncio.sleep(1.2)
    # The visitor's dialog is now the oldest of the SEEDED + 1.
    await seed(db, before=1.0)
    total = SEEDED + 1

    page = await new_page("admin", viewport=DESKTOP)
    await sign_in(page, hub)
    listed = page.locator('[data-ol="dialog-list"]')
    await expect(items(page).first).to_contain_text("Question 0")
    await expect(items(page).first).to_have_attribute("aria-setsize", str(total))
    drawn = await items(page).count()
    assert 0 < drawn <= MOST_DRAWN, drawn
    # Every item has one height, whatever it shows: the window counts on it.
    heights = {round((await box(items(page).nth(i)))["height"]) for i in range(drawn)}
    assert len(heights) == 1, heights
    height = heights.pop()
    # The scrollbar spans every dialog, drawn or not.
    scroll_height = await listed.evaluate("(list) => list.scrollHeight")
    assert scroll_height >= total * height, (scroll_height, total, height)
    assert await page.get_by_text("Where is my order?").count() == 0
    await shot(page, "long-list-top-1280x800")

    list_box = await box(listed)
    await listed.evaluate("(list) => { list.scrollTop = list.scrollHeight; }")
    oldest = items(page).filter(has_text="Where is my order?")
    await expect(oldest).to_have_attribute("aria-posinset", str(total))
    await within(oldest, list_box)
    assert await items(page).count() <= MOST_DRAWN
    assert await bad_text_nodes(page) == []
    await shot(page, "long-list-bottom-1280x800")

    # Focus stays on an item while the operator scrolls far away from it.
    await listed.evaluate("(list) => { list.scrollTop = 0; }")
    await expect(items(page).first).to_have_attribute("aria-posinset", "1")
    await expect(items(page).nth(2)).to_have_attribute("aria-posinset", "3")
    await items(page).nth(2).locator("button").focus()
    await listed.evaluate("(list) => { list.scrollTop = list.scrollHeight; }")
    await expect(oldest).to_be_visible()
    focused = (
        "() => document.activeElement.closest('[data-ol=dialog]').getAttribute('aria-posinset')"
    )
    assert await page.evaluate(focused) == "3"

    # A message from far down the list brings its dialog to the top, and the operator sees it
    # there once they scroll back up.
    await listed.evaluate("(list) => { list.scrollTop = 0; }")
    await expect(items(page).filter(has_text="Where is my order?")).to_have_count(0)
    await visitor.say("Anyone there?")
    top = items(page).first
    await expect(top.locator('[data-ol="preview"]')).to_have_text("Anyone there?")
    await expect(top).to_have_attribute("aria-posinset", "1")
    await within(top, list_box)
    # An unread badge leaves the item's height as it was.
    await expect(top.locator('[data-ol="unread"]')).to_have_text("1")
    assert round((await box(top))["height"]) == height

    # Alt+↓ walks down the order, far past the items drawn at first, keeping the chosen one in
    # view; its conversation opens.
    await items(page).nth(1).click()
    await expect(page.locator('[data-ol="conv-name"]')).to_have_text("Client 0")
    steps = 70
    for _ in range(steps):
        await page.keyboard.press("Alt+ArrowDown")
    chosen = page.locator('[data-ol="dialog"]:has([aria-current="true"])')
    await expect(chosen).to_have_attribute("aria-posinset", str(2 + steps))
    await expect(chosen).to_contain_text(f"Client {steps}")
    await within(chosen, list_box)
    await expect(page.locator('[data-ol="conv-name"]')).to_have_text(f"Client {steps}")
    assert await items(page).count() <= MOST_DRAWN
    await shot(page, "long-list-keyboard-1280x800")

    phone = await new_page("phone", viewport=PHONE)
    await sign_in(phone, hub)
    await expect(items(phone).first).to_contain_text("Anyone there?")
    assert 0 < await items(phone).count() <= MOST_DRAWN
    phone_list = phone.locator('[data-ol="dialog-list"]')
    await phone_list.evaluate("(list) => { list.scrollTop = list.scrollHeight; }")
    last = items(phone).filter(has_text="Question 299")
    await expect(last).to_have_attribute("aria-posinset", str(total))
    await within(last, await box(phone_list))
    await shot(phone, "long-list-bottom-375x667")
