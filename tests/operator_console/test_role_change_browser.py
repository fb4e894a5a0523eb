"""An admin demoted while their console is open: the console starts again with the new role,
so the admin's screens (API tokens and webhooks) leave the top bar."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from core.db import SessionMaker
from core.db.schema import Operator
from operator_console.auth import hash_password
from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, sign_in
from tests.support.console_world import logged_in

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_demoted_admins_console_loses_the_admin_screens(
    hub: str, db: SessionMaker, new_page: NewPage, viewport: dict[str, int]
) -> None:
    async with db() as session, session.begin():
        ivan = Operator(
            login="ivan", name="Ivan", role="admin", password_hash=hash_password("pw-ivan")
        )
        session.add(ivan)
        await session.flush()
        ivans_id = ivan.id
    console = await new_page("console", viewport=viewport)
    await sign_in(console, hub, "ivan", "pw-ivan")
    integrations = console.locator('[data-ol="nav-integrations"]')
    await expect(integrations).to_have_attribute("data-screen", "integrations")
    assert await integrations.get_attribute("hidden") is None

    admin = await logged_in(hub, "admin")
    try:
        status, _ = await admin.call(
            "PATCH", f"/api/admin/operators/{ivans_id}", {"role": "operator"}
        )
        assert status == 200
    finally:
        await admin.close()

    # Still signed in, live again, and without the admin's screen (marked hidden, not only out
    # of sight: on a phone the top bar's buttons are folded away either way).
    await expect(integrations).to_have_attribute("hidden", "", timeout=15_000)
    await expect(console.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
    await expect(console.locator('[data-ol="login-form"]')).to_be_hidden()
    await expect(console.locator('[data-ol="nav-dialogs"]')).to_be_attached()
    if viewport == DESKTOP:  # a phone's top bar leaves the role out
        await expect(console.locator("#me-role")).to_have_text("Operator")
    assert await bad_text_nodes(console) == []
