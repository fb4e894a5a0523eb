"""The admin's Integrations screen in a real browser, at 1280×800 and 375×667: a token is
created and its value shown once, a webhook is added and its open delivery log shows a
visitor's message as it is delivered, with the receiver's answer, while a form being filled in
keeps its input; and a token is revoked."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, ViewportSize, expect

from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.hubclient import VisitorClient
from tests.support.integration_peer import WebhookPeer

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]

SIZES = ((1280, 800), (375, 667))


@pytest.fixture
async def peer() -> AsyncIterator[WebhookPeer]:
    """A receiver that accepts every correctly signed POST."""
    receiver = WebhookPeer()
    await receiver.server.start_server()
    try:
        yield receiver
    finally:
        await receiver.server.close()


async def shot(page: Page, name: str) -> None:
    """Screenshots at both sizes when ``OPENLINES_SHOTS`` names a folder."""
    folder = os.environ.get("OPENLINES_SHOTS")
    for width, height in SIZES:
        await page.set_viewport_size(ViewportSize(width=width, height=height))
        # Nothing sticks out sideways on either size: the page never scrolls horizontally.
        overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"{name} at {width}px is {overflow}px too wide"
        if folder:
            await page.screenshot(path=Path(folder) / f"{name}-{width}x{height}.png")
    await page.set_viewport_size(ViewportSize(width=SIZES[0][0], height=SIZES[0][1]))


async def test_admin_makes_a_token_and_a_webhook_and_reads_its_delivery_log(
    hub: str, new_page: NewPage, peer: WebhookPeer
) -> None:
    page = await new_page("admin", viewport={"width": 1280, "height": 800})
    await page.goto(f"{hub}/")
    await page.locator('[data-ol="login"]').fill("admin")
    await page.locator('[data-ol="password"]').fill(ADMIN_PASSWORD)
    await page.locator('[data-ol="login-submit"]').click()
    await page.locator('[data-ol="nav-integrations"]').click()

    tokens = page.locator('[data-ol="token-form"]')
    await tokens.locator('input[name="name"]').fill("Reporting")
    await tokens.locator('input[value="dialogs:read"]').check()
    await tokens.locator('input[value="stats:read"]').check()
    await tokens.locator('[data-ol="token-create"]').click()
    secret = page.locator('[data-ol="integrations-secret"] code')
    await expect(secret).to_have_text(re.compile(r"^olt_\S{40,}$"))
    row = page.locator('[data-ol="tokens-list"] tbody tr', has_text="Reporting")
    await expect(row).to_contain_text("Read dialogs, Read statistics")
    await expect(row.locator('[data-ol="token-last-used"]')).to_have_text("never")

    hooks = page.locator('[data-ol="webhook-form"]')
    await hooks.locator('input[name="name"]').fill("CRM sync")
    await hooks.locator('input[name="url"]').fill(peer.url)
    await hooks.locator('input[value="message.created"]').check()
    await hooks.locator('[data-ol="webhook-create"]').click()
    await expect(secret).to_contain_text("whsec_")
    peer.secret = await secret.inner_text()
    hook = page.locator('[data-ol="webhooks-list"] tbody tr', has_text="CRM sync")
    await hook.locator('[data-ol="webhook-deliveries"]').click()
    log = page.locator('[data-ol="delivery-log"]')
    await expect(log).to_contain_text("Deliveries to “CRM sync”")
    await expect(log.locator("tbody")).to_have_text("None yet.")
    delivery = page.locator('[data-ol="deliveries-list"] tbody tr[class*="delivery--"]')
    # Half-way through another webhook when the delivery comes: the log changes, the form not.
    draft = hooks.locator('input[name="name"]')
    await draft.fill("Half-typed")
    visitor = VisitorClient(hub)
    try:
        await visitor.connect()
        await visitor.say("Do you ship abroad?")
        await peer.wait_for("message.created")
        # The open log shows the delivery and then its answer as they happen, without a reload.
        await expect(delivery).to_have_count(1, timeout=15_000)
        await expect(delivery.first).to_contain_text("message.created")
        await expect(delivery.first).to_contain_text("delivered", timeout=15_000)
    finally:
        await visitor.close()
    await expect(draft).to_have_value("Half-typed")
    await expect(draft).to_be_focused()
    delivery = delivery.first
    await expect(delivery).to_contain_text("thanks")
    await shot(page, "integrations")

    await row.locator('[data-ol="token-revoke"]').click()
    await expect(row).to_contain_text("Revoked")
    await expect(page.locator('[data-ol="integrations-secret"]')).to_have_count(0)
