"""Reopening a closed dialog from the conversation, as an admin: the Reopen button under the
closed dialog, and the reply box back once the router has reopened it. A screenshot goes to
``OPENLINES_SHOTS`` when it is set."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.support.console_page import DESKTOP, sign_in
from tests.support.console_world import World

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(90),
]


async def test_an_admin_reopens_a_closed_dialog_from_its_conversation(
    hub: str, world: World, new_page: NewPage
) -> None:
    page = await new_page("admin", viewport=DESKTOP)
    await sign_in(page, hub)
    await page.evaluate("id => { location.hash = `#/dialogs/${id}`; }", world.dialogs["petr"])
    closed = page.locator("#composer-closed")
    await expect(closed).to_contain_text("This dialog is closed.")
    await expect(page.locator('[data-ol="reply"]')).to_be_disabled()
    if folder := os.environ.get("OPENLINES_SHOTS"):
        await page.screenshot(path=Path(folder) / "reopen-1280x800.png")
    await page.locator('[data-ol="reopen-dialog"]').click()
    # Petr is still on the Sales line: the dialog is his and open again, live.
    await expect(closed).to_be_hidden()
    await expect(page.locator('[data-ol="reply"]')).to_be_enabled()
    await expect(page.locator('[data-ol="messages"]')).to_contain_text("reopened the dialog")
