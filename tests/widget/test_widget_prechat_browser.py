"""The pre-chat form a web chat may ask for: name, and optionally email and phone, with the
first message. A phone the numbering plan does not know is refused next to the form; the
answers reach the CRM client as the visitor's own word, unverified.

Screenshots of each state go to ``$OPENLINES_SHOTS`` when that is set.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import ViewportSize, expect
from sqlalchemy import select

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.crm_schema import CrmContact
from tests.connectors.webchat.test_webchat_uploads import set_chat_config
from tests.support.axe import axe_violations
from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import PHONE
from tests.support.widget_page import HOST, bad_widget_text, part, shot, widget, widget_page

PHONE_SIZE = ViewportSize(width=PHONE["width"], height=PHONE["height"])

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


async def crm_contacts(settings: Settings, count: int) -> set[tuple[str, str, bool]]:
    """The CRM's contacts once there are ``count`` of them (the sink is asynchronous)."""
    engine = make_engine(settings.effective_database_url)
    try:
        async with asyncio.timeout(10):
            while True:
                async with make_sessionmaker(engine)() as s:
                    rows = {(c.kind, c.value, c.verified)
                            for c in await s.scalars(select(CrmContact))}  # fmt: skip
                if len(rows) >= count:
                    return rows
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def test_prechat_form_comes_before_the_first_message_and_feeds_the_crm(
    hub: str, settings: Settings, new_page: NewPage
) -> None:
    await set_chat_config(settings, prechat=True)
    page = await widget_page(new_page, hub)

    form = widget(page).locator("form")
    await expect(form).to_be_visible()
    await expect(form).to_contain_text("Tell us who you are")
    for label in (
        "Your name",
        "Email (optional)",
        "Phone, with the country code (optional)",
        "Message",
    ):
        await expect(form.get_by_label(label)).to_be_visible()
    await expect(part(page, "input")).to_be_hidden()
    assert await axe_violations(page, HOST) == []
    await shot(page, "prechat-asked-desktop")

    await page.set_viewport_size(PHONE_SIZE)
    await form.get_by_label("Your name").fill("Ola Nordmann")
    await form.get_by_label("Phone, with the country code (optional)").fill("12345")
    await form.get_by_label("Message").fill("Is the <b>oolong</b> in stock?")
    await form.get_by_role("button", name="Send").click()
    await expect(form.get_by_role("alert")).to_contain_text("Please check the phone number")
    await shot(page, "prechat-bad-phone-phone")

    await form.get_by_label("Phone, with the country code (optional)").fill("+44 20 7946 0958")
    await form.get_by_label("Email (optional)").fill("Ola@Example.test")
    await form.get_by_role("button", name="Send").click()
    await expect(form).to_be_hidden()
    mine = widget(page).locator('[data-ol="message"][data-author="visitor"]')
    await expect(mine).to_have_count(1)
    await expect(mine).to_contain_text("Is the <b>oolong</b> in stock?")
    await expect(part(page, "input")).to_be_focused()
    await shot(page, "prechat-chatting-phone")
    assert await bad_widget_text(page) == []

    assert await crm_contacts(settings, 2) == {
        ("phone", "+442079460958", False),
        ("email", "ola@example.test", False),
    }

    # A reload goes on with the chat: the form is only for the first message.
    await page.reload()
    await expect(part(page, "panel")).to_be_visible()
    await expect(mine).to_have_count(1)
    await expect(form).to_be_hidden()
