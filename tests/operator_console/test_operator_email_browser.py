"""The admin operator form sets the address the weekly digest goes to: a bad address is
refused with the reason on screen, a good one is saved, an emptied one removed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from tests.support.admin import ADMIN_PASSWORD
from tests.support.console_page import DESKTOP, sign_in
from tests.support.hubclient import OperatorClient

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


async def saved_email(hub: str) -> str | None:
    client = OperatorClient(hub)
    try:
        await client.login("admin", ADMIN_PASSWORD)
        _status, body = await client.call("GET", "/api/admin/operators")
    finally:
        await client.close()
    email: str | None = body["operators"][0]["email"]
    return email


async def test_the_operator_form_saves_checks_and_clears_the_digest_address(
    hub: str, new_page: NewPage
) -> None:
    page = await new_page("admin", viewport=DESKTOP)
    await sign_in(page, hub)
    await page.locator('[data-ol="admin-operators"]').click()
    form = page.locator('[data-ol="operator-form"]')
    address = form.locator('input[name="email"]')

    await page.locator('[data-ol="operator-edit"]').first.click()
    await address.fill("admin@")
    await page.locator('[data-ol="operator-save"]').click()
    # The sentence sits next to the address, not in a line at the foot of the form.
    await expect(form.locator('[data-field="email"] [data-ol="field-error"]')).to_contain_text(
        "email address"
    )
    await address.fill("admin@example.test")
    await page.locator('[data-ol="operator-save"]').click()
    await expect(form).to_have_count(0)
    assert await saved_email(hub) == "admin@example.test"

    await page.locator('[data-ol="operator-edit"]').first.click()
    await expect(address).to_have_value("admin@example.test")
    await address.fill("")
    await page.locator('[data-ol="operator-save"]').click()
    await expect(form).to_have_count(0)
    assert await saved_email(hub) is None
