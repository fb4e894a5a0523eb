"""A dialog of hundreds of messages, as the operator sees it: it opens at its newest page with
the latest message in view, "Show earlier messages" above brings the page before it while the
messages that were in view stay where they were, and once the first message is shown the
control goes away.

Screenshots go to ``OPENLINES_SHOTS`` when it is set, at 1280×800 and 375×667.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from playwright.async_api import Locator, Page, Route, expect
from sqlalchemy import select

from core.db import SessionMaker
from core.db.schema import Dialog, Message
from core.envelope import utcnow
from operator_console.dialog_reads import THREAD_PAGE
from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import (
    DESKTOP,
    PHONE,
    bad_text_nodes,
    box,
    low_contrast_text,
    sign_in,
)
from tests.support.hubclient import VisitorClient
from tests.support.widget_page import shot

SEEDED = 280
"""Messages added after the visitor's first: more than two pages of the console's."""

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(120),
]


async def long_dialog(db: SessionMaker, visitor: VisitorClient) -> tuple[int, int]:
    """The visitor's dialog, with SEEDED more messages after the visitor's, client and operator
    in turn, a second apart: "Message 0" to "Message 279". Its id, and how many messages it
    has."""
    await visitor.say("Where is my order?")
    async with asyncio.timeout(10):
        while True:
            async with db() as s:
                dialog_id = await s.scalar(select(Dialog.id).where(Dialog.client_id.is_not(None)))
            if dialog_id is not None:
                break
            await asyncio.sleep(0.05)
    start = utcnow()
    async with db() as s, s.begin():
        dialog = await s.get(Dialog, dialog_id)
        assert dialog is not None
        for n in range(SEEDED):
            s.add(
                Message(
                    dialog_id=dialog_id,
                    channel_id=dialog.channel_id,
                    author="client" if n % 2 == 0 else "operator",
                    author_name="" if n % 2 == 0 else "Administrator",
                    text=f"Message {n}",
                    created_at=start + timedelta(seconds=n),
                )
            )
    async with db() as s:
        found = await s.scalars(select(Message.id).where(Message.dialog_id == dialog_id))
        return dialog_id, len(list(found))


def messages(page: Page) -> Locator:
    return page.locator('[data-ol="messages"] [data-ol="message"]')


def message(page: Page, text: str) -> Locator:
    """The message whose text is ``text``: not one whose text and time together contain it."""
    return messages(page).filter(has=page.get_by_text(text, exact=True))


async def open_dialog(page: Page, dialog_id: int) -> None:
    await page.evaluate("id => { location.hash = `#/dialogs/${id}`; }", dialog_id)
    await expect(message(page, f"Message {SEEDED - 1}")).to_be_visible()


async def to_top(page: Page) -> None:
    await page.locator('[data-ol="messages"]').evaluate("(box) => { box.scrollTop = 0; }")


async def test_a_long_dialog_opens_at_its_newest_page_and_shows_earlier_ones_in_place(
    hub: str, db: SessionMaker, new_page: NewPage, visitor: VisitorClient
) -> None:
    dialog_id, total = await long_dialog(db, visitor)
    assert total > 2 * THREAD_PAGE
    page = await new_page("admin", viewport=DESKTOP)
    await sign_in(page, hub)
    await open_dialog(page, dialog_id)
    thread = page.locator('[data-ol="messages"]')
    # The newest page only, its latest message in view at the bottom.
    assert await messages(page).count() == THREAD_PAGE
    newest, thread_box = await box(message(page, f"Message {SEEDED - 1}")), await box(thread)
    assert newest["y"] + newest["height"] <= thread_box["y"] + thread_box["height"] + 0.5
    assert await message(page, f"Message {SEEDED - THREAD_PAGE}").count() == 1
    assert await message(page, f"Message {SEEDED - THREAD_PAGE - 1}").count() == 0
    earlier = page.locator('[data-ol="earlier"]')
    await to_top(page)
    await expect(earlier).to_have_text("Show earlier messages")
    await expect(earlier).to_have_attribute("data-failed", "false")
    button = await box(earlier)
    assert button["y"] >= thread_box["y"] and button["height"] >= 24, (button, thread_box)
    assert await bad_text_nodes(page) == []
    await shot(page, "long-dialog-top-1280x800")

    # The first message shown before stays where it was while a page goes in above it.
    first_shown = message(page, f"Message {SEEDED - THREAD_PAGE}")
    before = await box(first_shown)
    await earlier.click()
    await expect(messages(page)).to_have_count(2 * THREAD_PAGE)
    after = await box(first_shown)
    assert abs(after["y"] - before["y"]) <= 2, (before, after)
    assert await message(page, f"Message {SEEDED - 2 * THREAD_PAGE}").count() == 1

    # The last page: every message, the visitor's first one on top, and no control any more.
    await to_top(page)
    await earlier.click()
    await expect(messages(page)).to_have_count(total)
    await expect(earlier).to_have_count(0)
    await to_top(page)
    first = await box(message(page, "Where is my order?"))
    assert thread_box["y"] <= first["y"] <= thread_box["y"] + thread_box["height"]
    await shot(page, "long-dialog-all-1280x800")


async def test_on_a_phone_the_control_sits_above_the_messages_in_view(
    hub: str, db: SessionMaker, new_page: NewPage, visitor: VisitorClient
) -> None:
    dialog_id, _total = await long_dialog(db, visitor)
    page = await new_page("admin", viewport=PHONE)
    await sign_in(page, hub)
    await open_dialog(page, dialog_id)
    await to_top(page)
    earlier = page.locator('[data-ol="earlier"]')
    await expect(earlier).to_be_in_viewport()
    button, oldest = await box(earlier), await box(message(page, f"Message {SEEDED - THREAD_PAGE}"))
    assert button["y"] + button["height"] <= oldest["y"], (button, oldest)  # above, not over
    assert button["x"] >= 0 and button["x"] + button["width"] <= PHONE["width"]
    await shot(page, "long-dialog-top-375x667")
    await earlier.click()
    await expect(messages(page)).to_have_count(2 * THREAD_PAGE)
    await expect(earlier).to_be_focused()


# Each socket the page opens, kept, so that the test can drop the live one.
KEEP_SOCKETS = """
window.__sockets = [];
const Socket = window.WebSocket;
window.WebSocket = class extends Socket {
  constructor(...args) {
    super(...args);
    window.__sockets.push(this);
  }
};
"""


async def test_more_than_a_page_missed_while_away_starts_the_thread_again_without_a_gap(
    hub: str, db: SessionMaker, new_page: NewPage, visitor: VisitorClient
) -> None:
    """The socket was away while more than a page of messages came: the reload's newest page
    begins after everything shown, and what came between is unknown. The thread shows that
    page alone, and "Show earlier messages" brings the ones before it, with no hole."""
    dialog_id, _total = await long_dialog(db, visitor)
    page = await new_page("admin", viewport=DESKTOP)
    await page.add_init_script(KEEP_SOCKETS)
    await sign_in(page, hub)
    await open_dialog(page, dialog_id)
    async with db() as s, s.begin():
        dialog = await s.get(Dialog, dialog_id)
        assert dialog is not None
        s.add_all(
            Message(
                dialog_id=dialog_id,
                channel_id=dialog.channel_id,
                author="client",
                text=f"Later {n}",
                created_at=utcnow(),
            )
            for n in range(THREAD_PAGE + 50)
        )
    # Written straight to the database, so no live frame told the page: a new socket's
    # snapshot is how it learns of them.
    await page.evaluate("() => window.__sockets.at(-1).close()")
    await expect(message(page, f"Later {THREAD_PAGE + 49}")).to_be_visible(timeout=15_000)
    await expect(messages(page)).to_have_count(THREAD_PAGE)
    assert await message(page, f"Message {SEEDED - 1}").count() == 0
    assert await message(page, "Later 49").count() == 0
    await to_top(page)
    await page.locator('[data-ol="earlier"]').click()
    await expect(messages(page)).to_have_count(2 * THREAD_PAGE)
    for text in ("Later 0", "Later 49", f"Message {SEEDED - 1}", f"Message {SEEDED - 50}"):
        assert await message(page, text).count() == 1, text


async def test_a_search_hit_before_the_newest_page_shows_with_the_way_to_the_rest(
    hub: str, db: SessionMaker, new_page: NewPage, visitor: VisitorClient
) -> None:
    """The hit is the dialog's first message, far before the newest page: it shows with its
    neighbours, nothing claims there is anything earlier, and "Show more messages" under them
    fills the gap up to the newest page a page at a time, until it closes."""
    dialog_id, total = await long_dialog(db, visitor)
    page = await new_page("admin", viewport=DESKTOP)
    await sign_in(page, hub)
    await page.keyboard.press("Control+k")
    await page.keyboard.type("order")
    await page.keyboard.press("Enter")
    hit = page.locator('[data-ol="search-hit"]')
    await expect(hit).to_have_count(1)
    await hit.click()
    first = message(page, "Where is my order?")
    await expect(first).to_have_attribute("data-found", "true")
    await expect(first).to_be_in_viewport()
    assert dialog_id == int(await page.evaluate("() => location.hash.split('/')[2]"))
    await expect(page.locator('[data-ol="earlier"]')).to_have_count(0)
    gap = page.locator('[data-ol="gap"]')
    await expect(gap).to_have_text("Show more messages")
    # The gap sits between the hit's neighbours and the newest page. The console asks for 50
    # around the hit; with nothing before it, that is the hit and the 49 after it.
    above = await box(message(page, "Message 48"))
    below = await box(message(page, f"Message {SEEDED - THREAD_PAGE}"))
    control = await box(gap)
    assert above["y"] + above["height"] <= control["y"], (above, control)
    assert control["y"] + control["height"] <= below["y"], (control, below)
    assert await message(page, "Message 49").count() == 0
    await gap.scroll_into_view_if_needed()
    await expect(gap).to_be_in_viewport()
    await shot(page, "long-dialog-gap-1280x800")

    await gap.click()
    await expect(message(page, "Message 49")).to_have_count(1)
    await expect(gap).to_have_count(1)  # a page came, and more are still missing
    await gap.click()
    await expect(messages(page)).to_have_count(total)
    await expect(gap).to_have_count(0)


async def test_a_page_that_fails_to_load_says_so_on_its_control_and_loads_on_the_next_try(
    hub: str, db: SessionMaker, new_page: NewPage, visitor: VisitorClient
) -> None:
    dialog_id, _total = await long_dialog(db, visitor)
    page = await new_page("admin", viewport=DESKTOP)
    await sign_in(page, hub)
    await open_dialog(page, dialog_id)
    refused = "the database is restarting"
    before = re.compile(r"/messages\?before=")

    async def refuse_once(route: Route) -> None:
        await route.fulfill(status=503, json={"error": refused})
        await page.unroute(before, refuse_once)

    await page.route(before, refuse_once)
    await to_top(page)
    earlier = page.locator('[data-ol="earlier"]')
    await earlier.click()
    await expect(earlier).to_have_text(f"Earlier messages did not load ({refused}). Try again")
    assert await messages(page).count() == THREAD_PAGE
    await expect(earlier).to_have_attribute("data-failed", "true")  # drawn as an error
    assert await bad_text_nodes(page) == []
    assert await low_contrast_text(page) == []
    await shot(page, "long-dialog-page-failed-1280x800")
    await earlier.click()
    await expect(messages(page)).to_have_count(2 * THREAD_PAGE)
    await expect(earlier).to_have_text("Show earlier messages")
    await expect(earlier).to_have_attribute("data-failed", "false")
