"""A logout in one tab of the console signs out the other tabs of that browser at once: their
live socket closes (4001) and they show the login screen, not a feed that goes on."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, box, sign_in

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_logout_in_one_tab_shows_the_login_screen_in_the_other(
    hub: str, new_page: NewPage, viewport: dict[str, int]
) -> None:
    first = await new_page("console", viewport=viewport)
    await sign_in(first, hub)
    second = await first.context.new_page()  # the same cookie, and the same viewport
    closes: list[str] = []
    second.on("websocket", lambda ws: ws.on("close", lambda closed: closes.append(closed.url)))
    await second.goto(f"{hub}/")
    await expect(second.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
    await expect(second.locator('[data-ol="login-form"]')).to_be_hidden()

    await first.locator('[data-ol="logout"]').click()
    await expect(first.locator('[data-ol="login-form"]')).to_be_visible()

    # The other tab was told by its socket, not by a request of its own: it shows the login
    # screen within seconds, with the form in view and nothing left of the console over it.
    form = second.locator('[data-ol="login-form"]')
    await expect(form).to_be_visible(timeout=10_000)
    assert closes, "the other tab's socket was closed"
    found = await box(form)
    assert found["width"] > 200 and found["x"] >= 0
    assert found["x"] + found["width"] <= viewport["width"]
    await expect(second.locator('[data-ol="login-error"]')).to_have_text(
        "Your session has ended. Please sign in again."
    )
    await expect(second.locator('[data-ol="login"]')).to_be_editable()
    await expect(second.locator('[data-ol="dialog-list"]')).to_be_hidden()
    assert await bad_text_nodes(second) == []
