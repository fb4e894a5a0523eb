"""A Telegram client edits a message while the operator has the dialog open, in the console in
a real Chromium: the bubble shows the new text marked as edited, the earlier text opens below
it, and the list's preview follows."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.browser_fixtures import NewPage
from tests.support.connector_hub import Hub
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, box, sign_in
from tests.support.telegram_fixtures import post_update
from tests.support.telegram_peer import WEBHOOK, TelegramPeer
from tests.support.widget_page import shot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(120),
]


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280x800", "375x667"])
async def test_an_edit_shows_in_the_open_dialog_with_the_earlier_text(
    hub: Hub, peer: TelegramPeer, new_page: NewPage, size: dict[str, int]
) -> None:
    await hub.add_channel("telegram", "shop", WEBHOOK)
    console = await new_page("console", viewport=size)
    await sign_in(console, hub.base)
    first = peer.user_message(4242, "Price for 3 kettles, delivered to Kazan?")
    assert await post_update(hub, first) == 200
    item = console.locator('[data-ol="dialog-list"] [data-ol="dialog"]')
    await expect(item).to_have_count(1)
    await item.locator("button").first.click()
    bubble = console.locator('[data-ol="messages"] [data-ol="message"][data-author="client"]')
    await expect(bubble.locator(".msg-text")).to_have_text(
        "Price for 3 kettles, delivered to Kazan?"
    )
    await expect(bubble.locator(".msg-time")).not_to_contain_text("edited")
    await expect(bubble.locator('[data-ol="edits"]')).to_have_count(0)

    edit = peer.user_edit(first, "Price for 5 kettles, delivered to Kazan?")
    assert await post_update(hub, edit) == 200
    await expect(bubble.locator(".msg-text")).to_have_text(
        "Price for 5 kettles, delivered to Kazan?"
    )
    await expect(bubble).to_have_count(1)  # the same message, not a new one
    await expect(bubble.locator(".msg-time")).to_contain_text("· edited")
    earlier = bubble.locator('[data-ol="edits"]')
    await expect(earlier.locator("summary")).to_have_text("Earlier text")
    old = earlier.locator(".msg-edit-text")
    await expect(old).to_be_hidden()  # folded until asked for
    await earlier.locator("summary").click()
    await expect(old).to_have_text("Price for 3 kettles, delivered to Kazan?")
    await expect(old).to_be_in_viewport()
    # Below the bubble, within the conversation's width.
    shown, text = await box(bubble.locator(".msg-bubble")), await box(old)
    assert text["y"] >= shown["y"] + shown["height"] - 1
    assert text["x"] + text["width"] <= size["width"]
    assert await bad_text_nodes(console) == []
    if await console.locator('[data-ol="back"]').is_hidden():
        # The list's preview, beside the conversation, shows the text meant now.
        await expect(item).to_contain_text("Price for 5 kettles")
    await shot(console, f"console-client-edit-{size['width']}x{size['height']}")

    if await console.locator('[data-ol="back"]').is_visible():
        await console.locator('[data-ol="back"]').click()
        await expect(item).to_contain_text("Price for 5 kettles")
