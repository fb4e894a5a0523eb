"""A visitor sends files from the widget by the button, by drag and drop and by paste: a
progress bar while it uploads, the image in the conversation after, and the operator sees it
in the console as a thumbnail. Limits refuse a file before it is uploaded.

Screenshots of each state go to ``$OPENLINES_SHOTS`` when that is set.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import FilePayload, Locator, Page, Route, expect

from config.settings import Settings
from tests.connectors.webchat.test_webchat_uploads import PNG, set_chat_config
from tests.support.axe import axe_violations
from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import DESKTOP, PHONE, sign_in
from tests.support.widget_page import (
    HOST,
    bad_widget_text,
    part,
    shot,
    visitor_writes,
    widget,
    widget_page,
)

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]

# A file handed to the widget as a browser would: in a DataTransfer, dropped or pasted.
_DROP = """([host, kind, bytes, name]) => {
  const root = document.querySelector(host).shadowRoot;
  const dt = new DataTransfer();
  dt.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
  if (kind === 'paste') {
    root.querySelector('[data-ol="input"]').dispatchEvent(
      new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    return;
  }
  const panel = root.querySelector('[data-ol="panel"]');
  for (const type of ['dragover', 'drop']) {
    panel.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }
}"""


def sent_images(page: Page) -> Locator:
    return widget(page).locator('[data-ol="message"][data-author="visitor"] [data-ol="files"] img')


async def test_files_by_button_drop_and_paste_reach_the_operator_as_thumbnails(
    hub: str,
    settings: Settings,
    new_page: NewPage,
) -> None:
    visitor = await widget_page(new_page, hub)
    await visitor_writes(visitor, "Here is a photo of the parcel")
    await expect(part(visitor, "attach")).to_be_visible()

    # The button: the upload waits at the network while its progress bar shows.
    release = asyncio.Event()

    async def hold(route: Route) -> None:
        await release.wait()
        await route.continue_()

    await visitor.route("**/widget/upload*", hold)
    async with visitor.expect_file_chooser() as chooser:
        await part(visitor, "attach").click()
    await (await chooser.value).set_files(
        files=[FilePayload(name="parcel.png", mimeType="image/png", buffer=PNG)]
    )
    progress = widget(visitor).locator("progress")
    await expect(progress).to_be_visible()
    await expect(progress).to_have_attribute("aria-label", "Uploading parcel.png")
    await shot(visitor, "upload-progress-desktop")
    release.set()
    await expect(sent_images(visitor)).to_have_count(1)
    await expect(progress).to_have_count(0)
    await visitor.unroute("**/widget/upload*")

    # Drag and drop, then paste.
    await visitor.evaluate(_DROP, [HOST, "drop", list(PNG), "d.png"])
    await expect(sent_images(visitor)).to_have_count(2)
    await visitor.evaluate(_DROP, [HOST, "paste", list(PNG), "p.png"])
    await expect(sent_images(visitor)).to_have_count(3)
    await expect(sent_images(visitor).first).to_have_js_property("naturalWidth", 160)
    assert await bad_widget_text(visitor) == []
    assert await axe_violations(visitor, HOST) == []
    await shot(visitor, "upload-sent-desktop")
    await visitor.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    await shot(visitor, "upload-sent-phone")

    # The operator sees the three images inline.
    console = await new_page("console", viewport=DESKTOP)
    await sign_in(console, hub)
    await console.locator('[data-ol="dialog-list"] [data-ol="dialog"]').first.click()
    thumbs = console.locator('[data-ol="messages"] [data-ol="msg-image"]')
    await expect(thumbs).to_have_count(3)
    await expect(thumbs.first).to_have_js_property("naturalWidth", 160)
    await shot(console, "upload-console-desktop")

    # A file over the chat's limit is refused in the widget before any upload.
    await set_chat_config(settings, upload_max_mb=1)
    await visitor.reload()
    await expect(part(visitor, "attach")).to_be_visible()
    await part(visitor, "file").set_input_files(
        files=[FilePayload(name="huge.png", mimeType="image/png", buffer=PNG + bytes(1 << 20))]
    )
    refusal = widget(visitor).locator('[data-ol="message"][data-author="system"]')
    await expect(refusal.filter(has_text="huge.png: larger than 1 MB")).to_be_visible()
    await shot(visitor, "upload-refused-phone")
