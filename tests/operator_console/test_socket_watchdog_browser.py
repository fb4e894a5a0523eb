"""The console's watchdog on its live socket, run on the page's own clock: every frame the
socket hears counts as a sign of life, and a socket that has heard nothing for 45 s is dropped
and opened again."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Page, expect

from operator_console import live
from tests.support.browser_fixtures import NewPage
from tests.support.console_page import DESKTOP, sign_in
from tests.support.hubclient import VisitorClient

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(90),
]

# Each socket the page opens, and each message its sockets hear, counted.
COUNT_SOCKETS = """
window.__sockets = 0;
window.__heard = 0;
window.__frames = [];
const Socket = window.WebSocket;
window.WebSocket = class extends Socket {
  constructor(...args) {
    super(...args);
    window.__sockets += 1;
    this.addEventListener("message", (event) => {
      window.__heard += 1;
      window.__frames.push([Math.round(performance.now()), String(event.data).slice(0, 80)]);
    });
  }
};
"""


async def sockets(page: Page) -> int:
    opened: int = await page.evaluate("window.__sockets")
    return opened


async def settled(page: Page, quiet_s: float = 1.0, within_s: float = 20.0) -> None:
    """Wait until the page's sockets have heard nothing for ``quiet_s`` of real time. The page's
    clock stands still between the test's steps, so a frame that came late (the CRM's lead, a
    welcome) would reset the watchdog at whatever moment the clock was then set to."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    heard = await page.evaluate("window.__heard")
    quiet_since = loop.time()
    while loop.time() - quiet_since < quiet_s:
        assert loop.time() < deadline, "the console's socket never went quiet"
        await asyncio.sleep(0.1)
        now_heard = await page.evaluate("window.__heard")
        if now_heard != heard:
            heard, quiet_since = now_heard, loop.time()


async def test_frames_keep_the_socket_and_45_quiet_seconds_reopen_it(
    hub: str, new_page: NewPage, visitor: VisitorClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hub's own ping (every 20 s of real time) would land at an arbitrary moment of the
    # page's clock on a slow machine: this test is about the page's side alone.
    monkeypatch.setattr(live, "HEARTBEAT_S", 3600.0)
    page = await new_page("admin", viewport=DESKTOP)
    await page.add_init_script(COUNT_SOCKETS)
    await page.clock.install()
    await sign_in(page, hub)
    conn = page.locator('[data-ol="conn"]')
    await settled(page)
    assert await sockets(page) == 1

    await page.clock.run_for(30_000)
    await visitor.say("Still there?")
    await expect(page.locator('[data-ol="dialog"]', has_text="Still there?")).to_have_count(1)
    await settled(page)
    # 60 s since the socket opened, 30 s since its last frame: it is alive.
    await page.clock.run_for(30_000)
    await expect(conn).to_have_attribute("data-state", "online")
    assert await sockets(page) == 1

    # 50 s since the last frame: dropped at 45 s, and opened again 1 s later.
    await page.clock.run_for(20_000)
    assert await sockets(page) == 2, await page.evaluate("window.__frames")
    await expect(conn).to_have_attribute("data-state", "online")
