"""The admin's Channels view in a real browser: add a VK community, see its secret masked,
disable it; an operator never sees the view."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.schema import Operator
from operator_console.auth import hash_password
from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import ON_SQLITE

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


async def login(page: Page, hub: str, who: str, password: str) -> None:
    await page.goto(f"{hub}/")
    await page.locator('[data-ol="login"]').fill(who)
    await page.locator('[data-ol="password"]').fill(password)
    await page.locator('[data-ol="login-submit"]').click()
    await expect(page.locator('[data-ol="me-name"]')).not_to_be_empty()


async def test_admin_adds_and_disables_a_vk_community_and_an_operator_sees_no_channels(
    hub: str, settings: Settings, new_page: NewPage
) -> None:
    page = await new_page("admin")
    await login(page, hub, "admin", ADMIN_PASSWORD)
    await page.locator('[data-ol="channels-open"]').click()
    await page.locator('[data-ol="channels-add"]').click()
    form = page.locator('[data-ol="channel-form"]')
    await form.locator('select[name="kind"]').select_option("vk")
    await form.locator('input[name="name"]').fill("Shop VK")
    await form.locator('input[name="key"]').fill("club")
    await form.locator('input[name="group_id"]').fill("218340211")
    await form.locator('input[name="token"]').fill("vk1.a.community-token-0123456789abcdef")
    await form.locator('input[name="confirmation"]').fill("c0nf1rm42")
    await form.locator('[data-ol="channel-save"]').click()
    # The server's reason names the field that is missing.
    await expect(form.locator('[data-ol="channel-error"]')).to_contain_text("secret is required")
    await form.locator('input[name="secret"]').fill("Sh0pSecret")
    await form.locator('[data-ol="channel-save"]').click()
    # Filtered by kind: the seeded demo web chat is listed too.
    row = page.locator('[data-ol="channels-list"] tbody tr', has_text="VK")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Shop VK")
    await expect(row).to_contain_text("/hooks/vk/club")

    await row.locator('[data-ol="channel-edit"]').click()
    token = page.locator('[data-ol="channel-form"] input[name="token"]')
    await expect(token).to_have_attribute("placeholder", "••••cdef (unchanged)")
    await expect(token).to_have_value("")
    await page.locator('[data-ol="channel-form"] input[name="name"]').fill("Shop (VK)")
    await page.locator('[data-ol="channel-save"]').click()
    await expect(row).to_contain_text("Shop (VK)")
    await row.locator('[data-ol="channel-toggle"]').click()
    await expect(row).to_contain_text("Disabled")
    # The seeded web chat shows its public page and the snippet to paste into a website.
    chat = page.locator('[data-ol="channels-list"] tbody tr', has_text="Web chat")
    await expect(chat.locator('[data-ol="channel-chat-link"]')).to_have_attribute(
        "href", f"{hub}/chat/demo"
    )
    await expect(chat.locator('[data-ol="channel-embed"]')).to_have_text(
        f'<script src="{hub}/widget/widget.js" data-channel="demo" async></script>'
    )
    # Its visitor-facing settings are fields of the form, saved and shown back.
    await chat.locator('[data-ol="channel-edit"]').click()
    chat_form = page.locator('[data-ol="channel-form"]')
    await chat_form.locator('select[name="prechat"]').select_option("true")
    await chat_form.locator('input[name="forms"]').fill("callback, contact")
    await chat_form.locator('input[name="upload_max_mb"]').fill("5")
    await chat_form.locator('[data-ol="channel-save"]').click()
    await expect(chat_form).to_be_hidden()
    await chat.locator('[data-ol="channel-edit"]').click()
    await expect(chat_form.locator('select[name="prechat"]')).to_have_value("true")
    await expect(chat_form.locator('input[name="forms"]')).to_have_value("callback, contact")
    await expect(chat_form.locator('input[name="upload_max_mb"]')).to_have_value("5")
    await expect(chat_form.locator('input[name="upload_types"]')).to_have_value(
        "image/*, application/pdf, text/plain"
    )
    await chat_form.locator("button", has_text="Cancel").click()

    engine = make_engine(settings.effective_database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add(
            Operator(
                login="olga", name="Olga", role="operator", password_hash=hash_password("pw-olga-1")
            )
        )
    await engine.dispose()
    operator = await new_page("operator")
    await login(operator, hub, "olga", "pw-olga-1")
    await expect(operator.locator('[data-ol="channels-open"]')).to_be_hidden()
