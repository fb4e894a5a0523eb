"""The console's pages under their content security policy: every screen works with nothing
refused, and no other site can frame the console."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect

from tests.support.browser_fixtures import NewPage
from tests.support.console_page import DESKTOP, sign_in
from tests.support.hubclient import VisitorClient
from tests.support.other_site import other_site

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(120),
]

# Every directive the browser enforced against the page, as it happened.
WATCH_POLICY = """
window.__refused = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__refused.push(`${event.effectiveDirective} ${event.blockedURI}`);
});
"""

SCREENS = ("nav-stats", "nav-kpi", "nav-load", "nav-answers", "nav-integrations",
           "admin-lines", "admin-operators", "channels-open", "nav-dialogs")  # fmt: skip


async def refused(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__refused")
    return found


async def test_every_screen_works_with_nothing_refused(
    hub: str, new_page: NewPage, visitor: VisitorClient
) -> None:
    await visitor.say("Is the blue kettle in stock?")
    page = await new_page("admin", viewport=DESKTOP)
    await page.add_init_script(WATCH_POLICY)
    answer = await page.goto(f"{hub}/")
    assert answer is not None
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    await sign_in(page, hub)
    await page.locator('[data-ol="dialog-list"] [data-ol="dialog"] button').first.click()
    await expect(page.locator(".msg-text", has_text="Is the blue kettle in stock?")).to_be_visible()
    for screen in SCREENS:
        await page.locator(f'[data-ol="{screen}"]').click()
        await expect(page.locator(f'[data-ol="{screen}"]')).to_have_attribute(
            "aria-current", "page"
        )
        await page.wait_for_load_state("networkidle")
    # The statistics draw their charts on canvases: the policy let the library run.
    await page.locator('[data-ol="nav-stats"]').click()
    await expect(page.locator("canvas").first).to_be_visible()
    await page.goto(f"{hub}/whatif")
    await page.wait_for_load_state("networkidle")
    assert await refused(page) == []


@pytest.fixture
async def framing_site(hub: str) -> AsyncIterator[str]:
    """A page on another origin that frames the console."""
    html = f'<!doctype html><iframe id="console" src="{hub}/" width="800" height="600">'
    async with other_site(html) as url:
        yield url


async def test_another_site_cannot_frame_the_console(
    hub: str, new_page: NewPage, framing_site: str
) -> None:
    page = await new_page("admin", viewport=DESKTOP)
    await page.goto(framing_site)
    await page.wait_for_load_state("networkidle")
    # The browser put its own error page in the frame, not the console.
    [frame] = [f for f in page.frames if f != page.main_frame]
    assert frame.url.startswith("chrome-error://"), frame.url
    assert await frame.locator('[data-ol="login"]').count() == 0
