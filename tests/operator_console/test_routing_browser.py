"""The console's routing controls in a real browser: take and skip an offer, hidden notes,
inviting a colleague, the routing audit, transfer and presence.

The operator under test works in Chromium; the visitor and the colleague are protocol clients
(tests/support/hubclient.py), which is enough to see what reaches them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from config.settings import Settings
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.routing_world import PASSWORD, configure

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


async def login(page: Page, hub: str, who: str) -> None:
    await page.goto(f"{hub}/")
    await page.locator('[data-ol="login"]').fill(who)
    await page.locator('[data-ol="password"]').fill(PASSWORD)
    await page.locator('[data-ol="login-submit"]').click()
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")


async def frame_where(client: OperatorClient, **match: Any) -> dict[str, Any]:
    dialog: dict[str, Any] = (await client.receive_until("dialog", **match))["dialog"]
    return dialog


async def test_offer_take_skip_note_invite_audit_transfer_and_presence(
    hub: str, settings: Settings, new_page: NewPage
) -> None:
    ids = await configure(settings, "sequence", ["alice", "bob"], offer_seconds=600)
    page = await new_page("alice")
    await login(page, hub, "alice")
    bob = OperatorClient(hub)
    await bob.login("bob", PASSWORD)
    await bob.open_socket()
    first, second = VisitorClient(hub), VisitorClient(hub)
    try:
        await first.connect()
        await second.connect()
        dialogs = page.locator('[data-ol="dialog-list"] [data-ol="dialog"]')

        # Skip: the first dialog is offered to Alice; she skips it and Bob gets the offer.
        await first.say("first client")
        await expect(dialogs).to_have_count(1)
        await dialogs.first.click()
        offer = page.locator('[data-ol="offer"]')
        await expect(offer).to_contain_text("offered to you")
        await page.locator('[data-ol="skip"]').click()
        skipped = await frame_where(bob, offered_to=[ids["bob"]])

        # Take: the second dialog starts again at the head of the queue, with Alice.
        await second.say("second client")
        item = page.locator(f'[data-ol="dialog"]:not([data-dialog-id="{skipped["id"]}"])')
        await expect(item.filter(has_text="second client")).to_have_count(1)
        await item.filter(has_text="second client").click()
        await expect(page.locator('[data-ol="take"]')).to_be_visible()
        await page.locator('[data-ol="take"]').click()
        await expect(page.locator('[data-ol="conv-status"]')).to_have_text("Open")
        await expect(page.locator('[data-ol="take"]')).to_be_hidden()

        # A hidden note shows for operators, marked as hidden, and never reaches the client.
        await page.locator('[data-ol="note-input"]').fill("internal: check the warehouse")
        await page.locator('[data-ol="note-send"]').click()
        note = page.locator('[data-ol="messages"] [data-ol="message"][data-hidden="true"]')
        await expect(note).to_contain_text("internal: check the warehouse")
        await page.locator('[data-ol="reply"]').fill("Looking into it")
        await page.locator('[data-ol="send"]').click()
        reply = await second.receive_until("message", author="operator")
        assert reply["text"] == "Looking into it"

        # Invite Bob: the console lists him in the dialog. Transfer and invite open over the
        # messages from the routing bar.
        await page.locator('[data-ol="routing-tools-toggle"]').click()
        await page.locator('[data-ol="invite-target"]').select_option(str(ids["bob"]))
        await page.locator('[data-ol="invite"]').click()
        await expect(page.locator('[data-ol="participants"]')).to_have_text("With: Bob")

        # The routing audit tells the story of the dialog, with the candidates considered.
        await page.locator('[data-ol="audit-toggle"]').click()
        audit = page.locator('[data-ol="audit-item"]')
        await expect(audit.first).to_contain_text("Offered — Alice")
        await expect(page.locator('[data-ol="audit-item"][data-event="take"]')).to_have_count(1)
        await expect(page.locator('[data-ol="audit-item"][data-event="invite"]')).to_have_count(1)

        # Transfer to Bob with a comment: Bob holds it now.
        await page.locator('[data-ol="routing-tools-toggle"]').click()
        await page.locator('[data-ol="transfer-target"]').select_option(f"op:{ids['bob']}")
        await page.locator('[data-ol="transfer-comment"]').fill("VIP, be nice")
        await page.locator('[data-ol="transfer"]').click()
        moved = await frame_where(bob, operator_id=ids["bob"])
        status, body = await bob.call("GET", f"/api/dialogs/{moved['id']}")
        assert status == 200
        assert any("VIP, be nice" in m["text"] and m["hidden"] for m in body["messages"])
        history = [m["text"] for m in body["messages"]]
        assert "second client" in history and "internal: check the warehouse" in history

        # Nothing hidden reached the visitor.
        again = VisitorClient(hub)
        try:
            welcome = await again.connect(token=second.token)
        finally:
            await again.close()
        assert not any("internal" in m["text"] or "VIP" in m["text"] for m in welcome["history"])

        # Presence: Alice goes away from the console.
        await page.locator('[data-ol="presence"]').select_option("away")
        for _ in range(50):
            _status, people = await bob.call("GET", "/api/colleagues")
            me = next(o for o in people["operators"] if o["id"] == ids["alice"])
            if me["status"] == "away":
                break
            await page.wait_for_timeout(100)
        assert me["status"] == "away"
    finally:
        await first.close()
        await second.close()
        await bob.close()
