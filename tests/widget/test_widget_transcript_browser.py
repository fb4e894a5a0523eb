""" "Send me the transcript": when an operator closes the chat the visitor is offered the
conversation by email; a bad address is named in the card, a good one gets a plain-text mail
through the hub's SMTP, where what the visitor typed stays text.

Screenshots of each state go to ``$OPENLINES_SHOTS`` when that is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import ViewportSize, expect

from config.settings import Settings
from tests.support.admin import ADMIN_PASSWORD
from tests.support.axe import axe_violations
from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import DESKTOP, PHONE, box
from tests.support.hubclient import OperatorClient
from tests.support.mailflow import wait_for_mail
from tests.support.mailpeers import CLIENT, SUPPORT, MailPeers
from tests.support.widget_page import (
    HOST,
    bad_widget_text,
    part,
    shot,
    visitor_writes,
    widget,
    widget_page,
)

PHONE_SIZE = ViewportSize(width=PHONE["width"], height=PHONE["height"])
DESKTOP_SIZE = ViewportSize(width=DESKTOP["width"], height=DESKTOP["height"])
ASKED = "<i>Which</i> size & colour?"

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


@pytest.fixture
def settings(redis_url: str, db_url: str, tmp_path: Path, mail_peers: MailPeers) -> Settings:
    """A hub whose own mail goes through the local Postfix."""
    mail_peers.empty()
    return Settings(
        redis_url=redis_url, database_url=db_url, data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD, inbound_shards=2, claim_idle_ms=500,
        digest_smtp_host="127.0.0.1", digest_smtp_port=mail_peers.smtp_port,
        digest_smtp_tls="none", digest_from_address=SUPPORT,
    )  # fmt: skip


@pytest.fixture
async def admin(hub: str) -> AsyncIterator[OperatorClient]:
    client = OperatorClient(hub)
    await client.login("admin", ADMIN_PASSWORD)
    yield client
    await client.close()


async def open_dialog(admin: OperatorClient) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            code, body = await admin.call("GET", "/api/dialogs?status=open")
            assert code == 200, body
            if body["dialogs"]:
                dialog: dict[str, Any] = body["dialogs"][0]
                return dialog
            await asyncio.sleep(0.05)


async def test_a_closed_chat_is_mailed_to_the_visitor_on_request(
    hub: str, admin: OperatorClient, mail_peers: MailPeers, new_page: NewPage
) -> None:
    visitor = await widget_page(new_page, hub)
    await visitor_writes(visitor, ASKED)
    dialog = await open_dialog(admin)
    code, body = await admin.call("POST", f"/api/dialogs/{dialog['id']}/close")
    assert code == 202, body

    card = part(visitor, "transcript")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Email me this conversation")
    address = card.get_by_label("Your email")
    await expect(address).to_have_value("")
    assert await axe_violations(visitor, HOST) == []
    await shot(visitor, "transcript-offered-desktop")
    await visitor.set_viewport_size(PHONE_SIZE)
    await expect(card).to_be_in_viewport()
    placed = await box(card)
    assert placed["x"] >= 0 and placed["x"] + placed["width"] <= PHONE["width"]
    await shot(visitor, "transcript-offered-phone")

    await address.fill("not an address")
    await card.get_by_role("button", name="Send transcript").click()
    await expect(card.get_by_role("alert")).to_have_text("Please check the email address")
    await expect(address).to_be_focused()
    await shot(visitor, "transcript-bad-address-phone")
    await address.fill(CLIENT)
    await card.get_by_role("button", name="Send transcript").click()
    await expect(card).to_have_text(f"The transcript is on its way to {CLIENT}")
    await shot(visitor, "transcript-sent-phone")
    await visitor.set_viewport_size(DESKTOP_SIZE)
    await shot(visitor, "transcript-sent-desktop")
    assert await bad_widget_text(visitor) == []

    mail = await wait_for_mail(mail_peers, CLIENT)
    body_part = mail.get_body()
    assert body_part is not None and body_part.get_content_type() == "text/plain"
    assert "You, " in body_part.get_content() and ASKED in body_part.get_content()
    await expect(widget(visitor).locator('[data-ol="transcript"]')).to_have_count(1)
