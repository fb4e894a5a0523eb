"""An operator attaches an image in the console; the visitor sees it in the widget."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import DESKTOP, sign_in
from tests.support.widget_page import widget, widget_page

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(60),
]


def png(width: int = 4, height: int = 3) -> bytes:
    """A real (red) PNG, so the browser decodes it and gives it a size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def decoded(page: Page, image: Locator) -> None:
    """Wait until the browser fetched and decoded the image (a 403 or 401 never gets a size)."""
    handle = await image.element_handle()
    await page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=handle)


async def test_operator_attaches_an_image_and_the_visitor_sees_it(
    hub: str, new_page: NewPage, tmp_path: Path
) -> None:
    console = await new_page("console", viewport=DESKTOP)
    await sign_in(console, hub)

    visitor = await widget_page(new_page, hub)
    await widget(visitor).locator('[data-ol="input"]').fill("What does the lid look like?")
    await widget(visitor).locator('[data-ol="send"]').click()

    dialogs = console.locator('[data-ol="dialog-list"] [data-ol="dialog"]')
    await expect(dialogs).to_have_count(1)
    await dialogs.first.locator("button").first.click()
    picture = tmp_path / "lid.png"
    picture.write_bytes(png())
    await console.locator('[data-ol="file-picker"]').set_input_files(str(picture))
    chip = console.locator('[data-ol="file-chip"]')
    await expect(chip).to_have_attribute("data-state", "done")
    await expect(chip).to_contain_text("lid.png")
    await console.locator('[data-ol="reply"]').fill("Like this:")
    await console.locator('[data-ol="send"]').click()
    await expect(chip).to_have_count(0)

    # The console shows the stored reply with a thumbnail from /api/attachments.
    thumb = console.locator('[data-ol="messages"] [data-author="operator"] [data-ol="msg-image"]')
    await expect(thumb).to_have_attribute("src", re.compile(r"^/api/attachments/\d+/[0-9a-f]{64}$"))
    await decoded(console, thumb)

    # The visitor sees the picture inline, fetched by its signed public link.
    reply = widget(visitor).locator('[data-ol="message"][data-author="operator"]')
    image = reply.locator('[data-ol="files"] img')
    await expect(image).to_have_attribute("src", re.compile(r"/files/\d+\.[0-9a-f]{64}\.\d+\."))
    await expect(image).to_have_attribute("alt", "lid.png")
    await decoded(visitor, image)
