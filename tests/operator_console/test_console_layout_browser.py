"""The console as a person sees it at 1280×800 and 375×667: three panes side by side on a
desktop and one at a time on a phone, room for the messages whatever is open, a client panel
that stays collapsed across reloads, admin screens under the top bar, no "null" anywhere,
readable muted text, and compressed scripts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from playwright.async_api import Page, Response, expect

from tests.support.console_page import (
    DESKTOP,
    PHONE,
    bad_text_nodes,
    box,
    inside,
    low_contrast_text,
    sign_in,
)
from tests.support.hubclient import VisitorClient

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


@pytest.fixture
async def visitor(hub: str) -> AsyncIterator[VisitorClient]:
    """A web chat visitor who has asked a question, so the console has a dialog to open."""
    client = VisitorClient(hub)
    await client.connect()
    await client.say("Is the blue kettle in stock?")
    try:
        yield client
    finally:
        await client.close()


async def open_first_dialog(page: Page) -> None:
    dialogs = page.locator('[data-ol="dialog-list"] [data-ol="dialog"]')
    await expect(dialogs).to_have_count(1)
    await dialogs.first.locator("button").first.click()
    await expect(page.locator('[data-ol="messages"] [data-ol="message"]').first).to_be_visible()
    await expect(page.locator('[data-ol="crm-name"]')).to_be_attached()


async def open_overlays(page: Page) -> None:
    """Open everything that could eat the message area: routing tools and the audit."""
    await page.locator('[data-ol="routing-tools-toggle"]').click()
    await page.locator('[data-ol="audit-toggle"]').click()
    await expect(page.locator('[data-ol="audit-item"]').first).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_desktop_shows_three_panes_and_keeps_the_messages_readable(
    hub: str, new_page: NewPage, visitor: VisitorClient, scheme: str
) -> None:
    page = await new_page("desktop", viewport=DESKTOP, color_scheme=scheme)
    await sign_in(page, hub)
    await open_first_dialog(page)
    await open_overlays(page)

    sidebar = await box(page.locator(".sidebar"))
    conversation = await box(page.locator('[data-ol="conversation"]'))
    panel = await box(page.locator('[data-ol="client-panel"]'))
    # Side by side, left to right, not overlapping, each as tall as the workspace.
    assert sidebar["x"] + sidebar["width"] <= conversation["x"] + 0.5
    assert conversation["x"] + conversation["width"] <= panel["x"] + 0.5
    assert sidebar["y"] == conversation["y"] == panel["y"]
    assert panel["width"] >= 240
    assert conversation["width"] >= 500

    messages = await box(page.locator('[data-ol="messages"]'))
    reply = await box(page.locator('[data-ol="reply"]'))
    assert messages["height"] >= 0.6 * DESKTOP["height"], messages
    assert inside(reply, DESKTOP)
    assert reply["y"] >= messages["y"] + messages["height"]
    await expect(page.locator('[data-ol="reply"]')).to_be_visible()

    assert await bad_text_nodes(page) == []
    assert await low_contrast_text(page) == []


async def test_phone_shows_one_pane_at_a_time_with_a_back_button(
    hub: str, new_page: NewPage, visitor: VisitorClient
) -> None:
    page = await new_page("phone", viewport=PHONE, is_mobile=True, has_touch=True)
    await sign_in(page, hub)
    sidebar, conversation = page.locator(".sidebar"), page.locator('[data-ol="conversation"]')
    panel = page.locator('[data-ol="client-panel"]')
    await expect(sidebar).to_be_visible()
    await expect(conversation).to_be_hidden()
    await expect(panel).to_be_hidden()

    await open_first_dialog(page)
    await expect(sidebar).to_be_hidden()
    await expect(panel).to_be_hidden()
    await open_overlays(page)
    messages = await box(page.locator('[data-ol="messages"]'))
    reply = await box(page.locator('[data-ol="reply"]'))
    assert messages["height"] >= 0.6 * PHONE["height"], messages
    assert inside(reply, PHONE)
    assert reply["y"] >= messages["y"] + messages["height"]
    assert (await box(conversation))["width"] == PHONE["width"]

    await page.locator('[data-ol="client-open"]').click()
    await expect(panel).to_be_visible()
    await expect(conversation).to_be_hidden()
    assert (await box(panel))["width"] == PHONE["width"]
    await expect(page.locator('[data-ol="crm-name"]')).to_be_in_viewport()
    assert await bad_text_nodes(page) == []

    await page.locator('[data-ol="panel-back"]').click()
    await expect(conversation).to_be_visible()
    await expect(panel).to_be_hidden()
    await page.locator('[data-ol="back"]').click()
    await expect(sidebar).to_be_visible()
    await expect(conversation).to_be_hidden()
    # The browser's own back button walks the same way.
    await page.go_back()
    await expect(conversation).to_be_visible()
    await expect(sidebar).to_be_hidden()


async def test_collapsed_client_panel_stays_collapsed_after_a_reload(
    hub: str, new_page: NewPage, visitor: VisitorClient
) -> None:
    page = await new_page("desktop", viewport=DESKTOP)
    await sign_in(page, hub)
    await open_first_dialog(page)
    panel = page.locator('[data-ol="client-panel"]')
    wide = (await box(page.locator('[data-ol="conversation"]')))["width"]

    await page.locator('[data-ol="client-panel-toggle"]').click()
    await expect(page.locator('[data-ol="crm-card"]')).to_be_hidden()
    assert (await box(panel))["width"] <= 60
    assert (await box(page.locator('[data-ol="conversation"]')))["width"] > wide + 200

    await page.reload()
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
    await expect(page.locator('[data-ol="crm-card"]')).to_be_hidden()
    assert (await box(panel))["width"] <= 60
    toggle = page.locator('[data-ol="client-panel-toggle"]')
    await expect(toggle).to_have_attribute("aria-expanded", "false")

    await toggle.click()
    await page.reload()
    await expect(page.locator('[data-ol="crm-name"]')).to_be_visible()
    assert (await box(panel))["width"] >= 240


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_admin_screens_keep_the_top_bar_and_never_print_null(
    hub: str, new_page: NewPage, viewport: dict[str, int]
) -> None:
    page = await new_page("admin", viewport=viewport)
    await sign_in(page, hub)
    topbar = page.locator(".topbar")
    screens = [
        ("admin-lines", '[data-ol="line-edit"]', '[data-ol="line-form"]', "line-save"),
        (
            "admin-operators",
            '[data-ol="operator-edit"]',
            '[data-ol="operator-form"]',
            "operator-save",
        ),
        ("channels-open", '[data-ol="channel-edit"]', '[data-ol="channel-form"]', "channel-save"),
    ]
    menu = page.locator('[data-ol="nav-toggle"]')
    for nav, edit, form, save in screens:
        # A phone keeps the navigation in a menu under the top bar.
        if viewport == PHONE:
            await menu.click()
        await page.locator(f'[data-ol="{nav}"]').click()
        await page.locator(edit).first.click()
        await expect(page.locator(form)).to_be_visible()
        bar = await box(topbar)
        screen = await box(page.locator("#app-view .screen:not([hidden])"))
        assert bar["y"] == 0 and screen["y"] >= bar["y"] + bar["height"] - 0.5
        await expect(page.locator(f'[data-ol="{nav}"]')).to_have_attribute("aria-current", "page")
        await expect(page.locator(f'[data-ol="{nav}"]')).to_be_visible(visible=viewport == DESKTOP)
        assert await bad_text_nodes(page) == [], nav
        assert await low_contrast_text(page) == [], nav
        # The form saves unchanged values and goes back to the list.
        await page.locator(f'[data-ol="{save}"]').click()
        await expect(page.locator('[data-ol="toast"]')).to_contain_text("Saved.")
        await expect(page.locator(form)).to_have_count(0)
    if viewport == PHONE:
        await menu.click()
    await page.locator('[data-ol="nav-dialogs"]').click()
    await expect(page.locator('[data-ol="dialog-list"]')).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_an_empty_list_says_so_under_its_tabs(
    hub: str, new_page: NewPage, viewport: dict[str, int]
) -> None:
    page = await new_page("desktop", viewport=viewport)
    await sign_in(page, hub)
    empty = page.locator("#list-empty")
    await expect(empty).to_have_text("No open dialogs. New conversations will appear here.")
    tabs = await box(page.locator('[data-ol="tab-open"]'))
    said = await box(empty)
    # Where the eye goes after the tabs, not at the foot of the empty column.
    assert 0 <= said["y"] - (tabs["y"] + tabs["height"]) <= 24, (tabs, said)
    assert said["x"] >= 0 and said["x"] + said["width"] <= viewport["width"]
    assert await low_contrast_text(page) == []


async def test_attach_button_is_an_inline_svg_icon(
    hub: str, new_page: NewPage, visitor: VisitorClient
) -> None:
    page = await new_page("desktop", viewport=DESKTOP)
    await sign_in(page, hub)
    await open_first_dialog(page)
    attach = page.locator('[data-ol="attach"]')
    await expect(attach.locator("svg")).to_have_count(1)
    assert (await attach.text_content() or "").strip() == ""
    assert (await box(attach.locator("svg")))["width"] >= 16


async def test_scripts_arrive_gzip_compressed_and_revalidate(hub: str, new_page: NewPage) -> None:
    page = await new_page("desktop", viewport=DESKTOP)
    scripts: list[Response] = []
    page.on("response", lambda r: scripts.append(r) if r.url.endswith(".js") else None)
    await sign_in(page, hub)
    assert {r.url.rsplit("/", 1)[1] for r in scripts} >= {"console.js", "api.js", "dom.js"}
    for response in scripts:
        headers = await response.all_headers()
        assert headers.get("content-encoding") == "gzip", response.url
        assert headers.get("vary") == "Accept-Encoding"
        assert headers.get("etag", "").endswith('-gzip"')
        assert headers["content-type"].startswith("text/javascript")

    # A browser that has the file gets a 304; one that refuses gzip gets it plain.
    first = await page.request.get(f"{hub}/static/console.js")
    etag = first.headers["etag"]
    again = await page.request.get(f"{hub}/static/console.js", headers={"If-None-Match": etag})
    assert again.status == 304
    plain = await page.request.get(
        f"{hub}/static/console.js", headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert b"boot()" in await plain.body()
    missing = await page.request.get(f"{hub}/static/../pages.py")
    assert missing.status == 404
