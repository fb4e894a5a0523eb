"""The launcher's forms beside the chat: "call me back" opens a dialog whose first message is
the phone, the contact form sends a message with an email, and while nobody is answering the
contact form stands in for the chat. Screenshots go to ``$OPENLINES_SHOTS`` when it is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import ViewportSize, expect

from config.settings import Settings
from tests.connectors.webchat.test_webchat_uploads import set_chat_config
from tests.support.admin import ADMIN_PASSWORD
from tests.support.axe import axe_violations
from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import PHONE
from tests.support.hubclient import OperatorClient
from tests.support.widget_page import HOST, bad_widget_text, part, shot, widget, widget_page

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


@pytest.fixture
async def admin(hub: str) -> AsyncIterator[OperatorClient]:
    client = OperatorClient(hub)
    yield client
    await client.close()


async def waiting_dialogs(admin: OperatorClient, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):
        while True:
            dialogs: list[dict[str, Any]] = (await admin.call("GET", "/api/dialogs"))[1]["dialogs"]
            if len(dialogs) == count:
                return dialogs
            await asyncio.sleep(0.05)


async def test_offline_contact_form_and_call_me_back(
    hub: str, settings: Settings, admin: OperatorClient, new_page: NewPage
) -> None:
    await set_chat_config(settings, forms=["callback", "contact"])
    page = await widget_page(new_page, hub)

    # Nobody is at work: the contact form stands in for the chat, under the three tabs.
    tabs = part(page, "tabs").locator("button")
    await expect(tabs).to_have_text(["Chat", "Call me back", "Write to us"])
    form = part(page, "form")
    await expect(form).to_be_visible()
    await expect(form).to_contain_text("We are away right now")
    await expect(part(page, "log")).to_be_hidden()
    assert await axe_violations(page, HOST) == []
    await shot(page, "forms-offline-desktop")

    await form.locator('[name="name"]').fill("Ann <b>Lee</b>")
    await form.locator('[name="email"]').fill("not an address")
    await form.locator('[name="text"]').fill("Do you ship oolong to Norway?")
    await form.locator('button[type="submit"]').click()
    await expect(part(page, "form-error")).to_have_text("Please check the email address")
    await form.locator('[name="email"]').fill("ann@example.com")
    await form.locator('button[type="submit"]').click()
    await expect(part(page, "log")).to_be_visible()
    notes = widget(page).locator('[data-ol="message"][data-author="system"]')
    await expect(notes.filter(has_text="We have your message")).to_be_visible()
    mine = widget(page).locator('[data-ol="message"][data-author="visitor"]')
    await expect(mine).to_have_count(1)
    await expect(mine.first).to_contain_text("Do you ship oolong to Norway?")
    await shot(page, "forms-offline-sent-desktop")

    # The dialog waited in the line's queue, with the visitor's own name, and goes to the
    # first operator who comes to work: logging in makes the admin available.
    await admin.login("admin", ADMIN_PASSWORD)
    (dialog,) = await waiting_dialogs(admin, 1)
    assert dialog["client_name"] == "Ann <b>Lee</b>"
    async with asyncio.timeout(10):
        while dialog["status"] != "open":
            assert dialog["status"] == "waiting", dialog
            await asyncio.sleep(0.05)
            (dialog,) = await waiting_dialogs(admin, 1)

    # Call me back: a phone that is not one is refused in the form, a real one is sent.
    await page.set_viewport_size(ViewportSize(width=PHONE["width"], height=PHONE["height"]))
    await tabs.filter(has_text="Call me back").click()
    await expect(tabs.filter(has_text="Call me back")).to_have_attribute("aria-pressed", "true")
    await form.locator('[name="phone"]').fill("+1 555 0000")
    await form.locator('button[type="submit"]').click()
    await expect(part(page, "form-error")).to_contain_text("Please check the phone number")
    await shot(page, "forms-callback-refused-phone")
    await form.locator('[name="phone"]').fill("+44 20 7946 0958")
    await form.locator('button[type="submit"]').click()
    await expect(notes.filter(has_text="We will call you back soon")).to_be_visible()
    await expect(mine.last).to_contain_text("Please call me back: +44 20 7946 0958")
    # Each thank-you comes right after the message it thanks for.
    texts: list[str] = (
        await widget(page)
        .locator('[data-ol="message"]')
        .evaluate_all("nodes => nodes.map((n) => n.querySelector('[data-ol=text]').textContent)")
    )
    for sent, thanks in (("Norway", "have your message"), ("+44", "call you back")):
        at = next(i for i, t in enumerate(texts) if sent in t)
        assert thanks in texts[at + 1], texts
    assert await bad_widget_text(page) == []
    assert await axe_violations(page, HOST) == []
    await shot(page, "forms-callback-sent-phone")
