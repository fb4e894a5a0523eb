"""The widget for people who use a keyboard, a screen reader or a dim screen: axe-core finds no
WCAG 2.1 AA violation in any state, timestamps are readable (they were 2.35:1), focus goes
back to the launcher after Escape or the close button, and the launcher says what is unread.

Screenshots of each state go to ``$OPENLINES_SHOTS`` when that is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import expect

from tests.support.admin import ADMIN_PASSWORD
from tests.support.axe import axe_violations
from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import PHONE
from tests.support.hubclient import OperatorClient
from tests.support.widget_page import (
    HOST,
    bad_widget_text,
    focused_hook,
    part,
    shot,
    visitor_writes,
    widget,
    widget_page,
)

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]

_CONTRAST = """(el) => {
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = c.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  let bg = el;
  while (getComputedStyle(bg).backgroundColor === 'rgba(0, 0, 0, 0)') bg = bg.parentElement;
  const [hi, lo] = [lum(rgb(getComputedStyle(el).color)),
                    lum(rgb(getComputedStyle(bg).backgroundColor))].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}"""


@pytest.fixture
async def admin(hub: str) -> AsyncIterator[OperatorClient]:
    client = OperatorClient(hub)
    await client.login("admin", ADMIN_PASSWORD)
    yield client
    await client.close()


async def operator_answers(admin: OperatorClient, text: str, client_msg_id: str) -> None:
    async with asyncio.timeout(10):
        while not (dialogs := (await admin.call("GET", "/api/dialogs"))[1]["dialogs"]):
            await asyncio.sleep(0.05)
    code, body = await admin.call(
        "POST",
        f"/api/dialogs/{dialogs[0]['id']}/messages",
        {"text": text, "client_msg_id": client_msg_id},
    )
    assert code == 202, body


async def test_keyboard_screen_reader_and_contrast_on_the_demo_site(
    hub: str, admin: OperatorClient, new_page: NewPage
) -> None:
    page = await widget_page(new_page, hub, open_chat=False)
    launcher = part(page, "launcher")
    await expect(launcher).to_have_attribute("aria-label", "Open chat")
    assert await axe_violations(page, HOST) == []

    # Keyboard only: the launcher opens the panel and the message field takes the focus.
    await launcher.focus()
    await page.keyboard.press("Enter")
    await expect(part(page, "panel")).to_be_visible()
    await expect(part(page, "panel")).to_have_attribute("aria-label", "Chat with us")
    assert await focused_hook(page) == "input"
    await visitor_writes(page, "Do you ship to Lisbon?")
    await operator_answers(admin, "Yes, in three days.", "r1")
    reply = widget(page).locator('[data-ol="message"][data-author="operator"]')
    await expect(reply).to_have_count(1)

    # The timestamps that read at 2.35:1 now meet AA, like everything axe checks.
    stamps = widget(page).locator(".mt")
    await expect(stamps.first).not_to_be_empty()
    for i in range(await stamps.count()):
        ratio = await stamps.nth(i).evaluate(_CONTRAST)
        assert ratio >= 4.5, f"timestamp contrast {ratio:.2f}:1"
    assert await axe_violations(page, HOST) == []
    assert await bad_widget_text(page) == []
    await shot(page, "a11y-open-desktop")

    # Escape closes the panel and the focus goes back to the launcher, not to <body>.
    await part(page, "input").focus()
    await page.keyboard.press("Escape")
    await expect(part(page, "panel")).to_be_hidden()
    assert await focused_hook(page) == "launcher"
    await expect(launcher).to_have_attribute("aria-expanded", "false")

    # An answer while it is closed: the launcher's label says so, not only a red dot.
    await operator_answers(admin, "Anything else?", "r2")
    await expect(launcher).to_have_attribute("aria-label", "Open chat, 1 unread message")
    await expect(part(page, "unread")).to_have_text("1")
    await shot(page, "a11y-unread-desktop")

    # The close button hands the focus back as well.
    await page.keyboard.press("Enter")
    await expect(part(page, "panel")).to_be_visible()
    await expect(launcher).to_have_attribute("aria-label", "Close chat")
    await part(page, "close").click()
    await expect(part(page, "panel")).to_be_hidden()
    assert await focused_hook(page) == "launcher"


async def test_the_public_chat_page_on_a_phone_passes_axe(hub: str, new_page: NewPage) -> None:
    page = await new_page("phone", viewport=PHONE, is_mobile=True, has_touch=True)
    await page.goto(f"{hub}/chat/demo")
    await expect(part(page, "panel")).to_be_visible()
    await visitor_writes(page, "Hello from a small screen")
    assert await axe_violations(page, HOST) == []
    assert await bad_widget_text(page) == []
    await shot(page, "a11y-chat-page-phone")
