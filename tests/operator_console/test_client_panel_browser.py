"""The client panel as a person sees it at 1280×800 and 375×667: contacts they can edit, with a
sentence next to a bad phone and the good one saved in its normal form; the client's identities
and lead; missing required fields with their points, a made-up name among them; and an earlier
dialog from another channel opened read only, its messages shown and no reply box."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from core.db import SessionMaker
from core.db.crm_schema import CrmLead, CrmRequiredFields
from core.db.schema import Channel, Client, ClientIdentity, Line, Operator
from core.envelope import utcnow
from crm_sink.completeness import BAD_PHONE
from tests.support.client_seed import add_open_dialog
from tests.support.console_page import (
    DESKTOP,
    PHONE,
    bad_text_nodes,
    box,
    low_contrast_text,
    sign_in,
)
from tests.support.console_world import add_earlier_dialog

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(120),
]


async def _seed(db: SessionMaker) -> None:
    """A web chat visitor with a made-up name, an open dialog with the admin, a lead, an
    earlier Telegram dialog on Sales, and required fields on the demo line."""
    at = utcnow() - timedelta(minutes=30)
    async with db() as s, s.begin():
        admin_id = await s.scalar(select(Operator.id).where(Operator.login == "admin"))
        sales = Line(key="sales", name="Sales", settings={})
        s.add(sales)
        await s.flush()
        tg = Channel(
            line_id=sales.id, kind="telegram", key="sales-tg", name="Sales bot", enabled=False
        )
        client = Client(name="Visitor J3tCnX")
        s.add_all([tg, client])
        await s.flush()
        identity = ClientIdentity(
            client_id=client.id,
            channel_id=1,
            external_id="J3tCnXabc",
            display_name="Visitor J3tCnX",
        )
        s.add(identity)
        await s.flush()
        dialog = await add_open_dialog(
            s,
            identity,
            "Is the blue kettle in stock?",
            at,
            operator_id=admin_id,
            author_name=client.name,
        )
        s.add(
            CrmLead(
                client_id=client.id,
                source_dialog_id=dialog.id,
                line_id=1,
                channel_kind="webchat",
                title="Blue kettle",
                status="new",
            )
        )
        s.add(CrmRequiredFields(line_id=1, points={"name": 5, "phone": 10, "email": 3}))
        client_id, channel_id, line_id = client.id, tg.id, sales.id
    await add_earlier_dialog(
        db,
        client_id,
        channel_id,
        line_id,
        ["Where is my order?", "It was due on Monday"],
        utcnow() - timedelta(days=3),
        external_id="4242",
        display_name="Anna P",
    )


async def _open_panel(page: Page, phone: bool) -> None:
    await page.locator('[data-ol="dialog-list"] [data-ol="dialog"] button').first.click()
    await expect(page.locator('[data-ol="messages"] [data-ol="message"]').first).to_be_visible()
    if phone:
        await page.locator('[data-ol="client-open"]').click()
    await expect(page.locator('[data-ol="crm-name"]')).to_have_text("Visitor J3tCnX")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_client_panel_edits_contacts_lists_what_is_missing_and_opens_history_read_only(
    hub: str, new_page: NewPage, db: SessionMaker, viewport: dict[str, int]
) -> None:
    await _seed(db)
    phone = viewport == PHONE
    page = await new_page("panel", viewport=viewport, is_mobile=phone, has_touch=phone)
    await sign_in(page, hub)
    await _open_panel(page, phone)
    panel = page.locator('[data-ol="client-panel"]')
    card = page.locator('[data-ol="crm-card"]')

    # Missing fields with their points; the made-up name is one of them.
    missing = card.locator('[data-ol="crm-missing-item"]')
    await expect(missing).to_have_text(
        [
            re.compile(r"Name\s*\+5 points.*"),
            re.compile(r"Phone\s*\+10 points.*"),
            re.compile(r"Email\s*\+3 points.*"),
        ]
    )
    await expect(card.locator('[data-ol="crm-input-name"]')).to_have_value("")
    await expect(card.locator('[data-ol="crm-identity"]')).to_have_text(
        ["Web chat", "Telegram Anna P"]
    )
    await expect(card.locator('[data-ol="crm-lead"]')).to_have_text(
        [re.compile(r"Blue kettle\s*New")]
    )

    # A bad phone: a sentence right under its field, inside the panel.
    add_phone = card.locator('[data-ol="crm-add-phone"]')
    await add_phone.locator("input").fill("12345")
    await add_phone.locator('button[type="submit"]').click()
    error = add_phone.locator('[data-ol="crm-error"]')
    await expect(error).to_have_text(BAD_PHONE)
    field, said, pane = (await box(add_phone.locator("input")), await box(error), await box(panel))
    assert field["y"] + field["height"] <= said["y"] < field["y"] + field["height"] + 24
    assert pane["x"] <= said["x"] and said["x"] + said["width"] <= pane["x"] + pane["width"] + 0.5

    # A good one is saved in its normal form, and is still there after a reload.
    await add_phone.locator("input").fill("+7 (916) 123-45-67")
    await add_phone.locator('button[type="submit"]').click()
    await expect(card.locator('[data-ol="crm-input-phone"]')).to_have_value("+79161234567")
    await expect(card.locator('[data-ol="crm-notice"]')).to_have_text(
        "Saved. You earned 10 points."
    )
    await page.reload()
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
    if phone:
        # The reload lands back on the panel's own screen.
        await expect(page.locator('[data-ol="crm-name"]')).to_have_text("Visitor J3tCnX")
    else:
        await _open_panel(page, phone)
    await expect(card.locator('[data-ol="crm-input-phone"]')).to_have_value("+79161234567")
    await expect(missing).to_have_text(
        [re.compile(r"Name\s*\+5 points.*"), re.compile(r"Email\s*\+3 points.*")]
    )
    assert await bad_text_nodes(page) == []
    assert await low_contrast_text(page) == []

    # The earlier Telegram dialog opens read only, in the panel, with its messages.
    earlier = card.locator('[data-ol="crm-history-item"]')
    await expect(earlier).to_have_count(1)
    await expect(earlier).to_contain_text("Telegram · Sales")
    await earlier.click()
    view = card.locator('[data-ol="crm-history-view"]')
    await expect(view.locator('[data-ol="crm-history-message"]')).to_have_text(
        [re.compile(r".*Where is my order\?"), re.compile(r".*It was due on Monday")]
    )
    await expect(view).to_contain_text("Read only")
    await expect(view.locator("textarea, input, [contenteditable]")).to_have_count(0)
    await expect(panel.locator('[data-ol="reply"]')).to_have_count(0)
    if phone:
        await expect(page.locator('[data-ol="reply"]')).to_be_hidden()
    shown = await box(view.locator('[data-ol="crm-history-message"]').first)
    pane = await box(panel)
    assert pane["x"] <= shown["x"] and shown["x"] + shown["width"] <= pane["x"] + pane["width"]
    assert await bad_text_nodes(page) == []
    assert await low_contrast_text(page) == []

    # Esc leaves the earlier dialog for the card, and the panel stays where it was.
    await page.keyboard.press("Escape")
    await expect(card.locator('[data-ol="crm-contacts"]')).to_be_visible()
    await expect(panel).to_be_visible()
    await earlier.click()
    await view.locator('[data-ol="crm-history-back"]').click()
    await expect(card.locator('[data-ol="crm-contacts"]')).to_be_visible()
