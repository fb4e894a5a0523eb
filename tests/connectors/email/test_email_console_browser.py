"""What an operator sees, in a real Chromium, when the line's greeting was not mailed to an
out-of-office: the failure and its reason under the greeting, at both sizes; a greeting that
went out shows nothing under it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.support.browser_fixtures import NewPage
from tests.support.connector_hub import Hub
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, box, inside, sign_in
from tests.support.mailflow import add_mailbox, client_mail, set_greeting, wait_for_mail
from tests.support.mailpeers import OTHER, SUPPORT, MailPeers
from tests.support.widget_page import shot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(120),
]

GREETING = "We got your mail and answer within a day."


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280x800", "375x667"])
async def test_a_greeting_not_mailed_to_an_out_of_office_says_so_and_why(
    hub: Hub,
    mailboxes: MailPeers,
    account_config: dict[str, Any],
    new_page: NewPage,
    size: dict[str, int],
) -> None:
    await set_greeting(hub.server.app, GREETING)
    await add_mailbox(hub.server.app, account_config)
    console = await new_page("console", viewport=size)
    await sign_in(console, hub.base)
    away = client_mail(
        "Automatic reply: order 77", "I am away until Monday.", "<away@example.test>",
        Auto_Submitted="auto-replied",
    )  # fmt: skip
    mailboxes.deliver(away)
    mailboxes.deliver(
        f"From: {OTHER}\r\nTo: {SUPPORT}\r\nSubject: Refund\r\nMessage-ID: <r@example.test>\r\n"
        "\r\nWhere is my refund?\r\n".encode(),
        sender=OTHER,
    )
    await wait_for_mail(mailboxes, OTHER)  # the person's greeting went out

    dialogs = console.locator('[data-ol="dialog-list"] [data-ol="dialog"]')
    await dialogs.filter(has_text="away until Monday").locator("button").first.click()
    greeting = console.locator('[data-ol="message"][data-author="system"]', has_text=GREETING)
    receipt = greeting.locator('[data-ol="receipt"]')
    await expect(receipt).to_have_text(
        "Failed: the client's last mail was sent automatically (an out-of-office, a list), "
        "and an automatic answer to it could start a mail loop"
    )
    await expect(receipt).to_be_in_viewport()
    assert inside(await box(receipt), size)  # wrapped, not cut at the screen's edge
    await shot(console, f"console-greeting-not-mailed-{size['width']}x{size['height']}")
    assert await bad_text_nodes(console) == []

    if await console.locator('[data-ol="back"]').is_visible():
        await console.locator('[data-ol="back"]').click()
    await dialogs.filter(has_text="Where is my refund?").locator("button").first.click()
    mailed = console.locator('[data-ol="message"][data-author="system"]', has_text=GREETING)
    await expect(mailed).to_be_visible()
    await expect(mailed.locator('[data-ol="receipt"]')).to_have_count(0)
