"""The widget embedded on a customer's site, another origin than the hub's: the visitor's
file upload is a cross-origin request, which the hub must allow."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import FilePayload, expect

from tests.connectors.webchat.test_webchat_uploads import PNG
from tests.support.browser_fixtures import NewPage
from tests.support.console_page import DESKTOP
from tests.support.other_site import other_site
from tests.support.widget_page import part, shot, visitor_writes, widget

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(90),
]


@pytest.fixture
async def shop(hub: str) -> AsyncIterator[str]:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title>"
        f'<script src="{hub}/widget/widget.js" data-channel="demo" async></script>'
        "</head><body><h1>Shop</h1></body></html>"
    )
    async with other_site(html) as url:
        yield url


async def test_a_file_uploads_from_another_origin(shop: str, new_page: NewPage) -> None:
    page = await new_page("visitor", viewport=DESKTOP)
    await page.goto(shop)
    await part(page, "launcher").click()
    await visitor_writes(page, "A photo of the parcel follows")
    await part(page, "file").set_input_files(
        files=[FilePayload(name="parcel.png", mimeType="image/png", buffer=PNG)]
    )
    sent = widget(page).locator('[data-ol="message"][data-author="visitor"] [data-ol="files"] img')
    await expect(sent).to_have_count(1)
    await expect(sent).to_have_js_property("naturalWidth", 160)

    # A refusal's reason reaches the widget too: the browser hides a cross-origin answer's
    # body from a page unless the answer allows that page.
    program = b"MZ\x90\x00" + bytes(60)  # named an image, which only the hub's check sees through
    await part(page, "file").set_input_files(
        files=[FilePayload(name="photo.png", mimeType="image/png", buffer=program)]
    )
    failed = widget(page).locator('[data-ol="message"][data-author="visitor"][data-state="failed"]')
    await expect(failed).to_contain_text("photo.png: programs and scripts cannot be sent")
    await shot(page, "widget-other-origin-upload-desktop")
