"""The console's watchdog on its live socket, run on the page's own clock: every frame the
socket hears counts as a sign of life, and a socket that has heard nothing for 45 s is dropped
and opened again."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.support.browser_fixtures import NewPage
from tests.support.console_page import DESKTOP, sign_in
from tests.support.hubclient import VisitorClient

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(90),
]

# Each socket the page opens, counted.
COUNT_SOCKETS = """
window.__sockets = 0;
const Socket = window.WebSocket;
window.WebSocket = class extends Socket {
  constructor(...args) {
    super(...args);
    window.__sockets += 1;
  }
};
"""


async def sockets(page: Page) -> int:
    opened: int = await page.evaluate("window.__sockets")
    return opened


async def test_frames_keep_the_socket_and_45_quiet_seconds_reopen_it(
    hub: str, new_page: NewPage, visitor: VisitorClient
) -> None:
    page = await new_page("admin", viewport=DESKTOP)
    await page.add_init_script(COUNT_SOCKETS)
    await page.clock.install()
    await sign_in(page, hub)
    conn = page.locator('[data-ol="conn"]')
    assert await sockets(page) == 1

    await page.clock.run_for(30_000)
    await visitor.say("Still there?")
    await expect(page.locator('[data-ol="dialog"]', has_text="Still there?")).to_have_count(1)
    # 60 s since the socket opened, 30 s since its last frame: it is alive.
    await page.clock.run_for(30_000)
    await expect(conn).to_have_attribute("data-state", "online")
    assert await sockets(page) == 1

    # 50 s since the last frame: dropped, and opened again.
    await page.clock.run_for(20_000)
    await page.clock.run_for(5_000)
    await expect(conn).to_have_attribute("data-state", "online")
    assert await sockets(page) == 2
