"""What an operator sees of Telegram's answers to their replies, in the console in a real
Chromium: a reply Telegram took says "Sent", and one to a client who blocked the bot says it
failed and why, in that dialog only."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.support.browser_fixtures import NewPage
from tests.support.connector_hub import Hub
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, sign_in
from tests.support.telegram_fixtures import post_update
from tests.support.telegram_peer import WEBHOOK, TelegramPeer
from tests.support.widget_page import shot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(120),
]

BLOCKED = 403
"""The chat the local Bot API refuses, as Telegram refuses a user who blocked the bot."""


async def answer(console: Page, question: str, text: str) -> None:
    """Open the dialog whose preview shows ``question`` and send ``text`` in it."""
    if await console.locator('[data-ol="back"]').is_visible():
        await console.locator('[data-ol="back"]').click()
    item = console.locator('[data-ol="dialog-list"] [data-ol="dialog"]', has_text=question)
    await item.locator("button").first.click()
    messages = console.locator('[data-ol="messages"]')
    await expect(messages.get_by_text(question)).to_be_visible()
    await console.locator('[data-ol="reply"]').fill(text)
    await console.locator('[data-ol="send"]').click()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280x800", "375x667"])
async def test_a_reply_says_sent_or_why_it_failed(
    hub: Hub, peer: TelegramPeer, new_page: NewPage, size: dict[str, int]
) -> None:
    tag = f"{size['width']}x{size['height']}"
    await hub.add_channel("telegram", "shop", WEBHOOK)
    console = await new_page("console", viewport=size)
    await sign_in(console, hub.base)
    assert await post_update(hub, peer.user_message(4242, "Where is my order?")) == 200
    assert await post_update(hub, peer.user_message(BLOCKED, "Cancel it, please")) == 200
    dialogs = console.locator('[data-ol="dialog-list"] [data-ol="dialog"]')
    await expect(dialogs).to_have_count(2)

    await answer(console, "Where is my order?", "It left today.")
    mine = console.locator('[data-ol="message"][data-author="operator"]')
    await expect(mine.locator('[data-ol="receipt"]')).to_have_text("Sent")

    await answer(console, "Cancel it, please", "Cancelled.")
    await expect(mine).to_have_count(1)  # only this dialog's reply is shown
    receipt = mine.locator('[data-ol="receipt"]')
    await expect(receipt).to_have_text(
        "Failed: Telegram refused: Forbidden: bot was blocked by the user"
        " (the user blocked the bot?)"
    )
    await expect(receipt).to_be_in_viewport()
    await shot(console, f"console-delivery-failed-{tag}")
    assert await bad_text_nodes(console) == []
