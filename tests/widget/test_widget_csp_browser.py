"""The widget on a site with a strict content security policy of its own: styled, and talking
to the hub, when the site allows the hub's script and socket but no inline styles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from tests.support.browser_fixtures import NewPage
from tests.support.console_page import PHONE, box
from tests.support.other_site import other_site
from tests.support.widget_page import part, shot, visitor_writes

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(90),
]


@pytest.fixture
async def strict_site(hub: str) -> AsyncIterator[str]:
    """A shop on another origin whose policy names the hub for its script and socket only."""
    hub_host = urlsplit(hub).netloc
    policy = (
        f"default-src 'self'; script-src 'self' {hub}; style-src 'self'; "
        f"connect-src 'self' {hub} ws://{hub_host}; img-src 'self' {hub} data:"
    )

    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Strict shop</title>"
        f'<script src="{hub}/widget/widget.js" data-channel="demo" async></script>'
        "</head><body><h1>Strict shop</h1></body></html>"
    )
    async with other_site(html, {"Content-Security-Policy": policy}) as url:
        yield url


async def test_a_strict_site_shows_the_chat_styled_and_it_talks(
    strict_site: str, new_page: NewPage
) -> None:
    # new_page fails the test on anything a policy refused, the widget's styles included.
    page = await new_page("visitor", viewport=PHONE)
    await page.goto(strict_site)
    launcher = part(page, "launcher")
    await expect(launcher).to_be_visible()
    found = await box(launcher)
    # Styled: the round 60 px button in the corner, not a bare button in the page's flow.
    assert (found["width"], found["height"]) == (60, 60)
    assert found["x"] + found["width"] == PHONE["width"] - 20
    await launcher.click()
    await visitor_writes(page, "Do you ship to Kazan?")
    panel = await box(part(page, "panel"))
    assert (panel["width"], panel["height"]) == (PHONE["width"], PHONE["height"])
    await shot(page, "widget-strict-site-375")
