"""The widget behind a proxy that refuses websockets: it falls back to long polls, and the
visitor and the operator talk as usual; where sockets failed only for a while, it goes back to
one. Screenshots go to ``$OPENLINES_SHOTS`` when set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from playwright.async_api import Locator, Page, ViewportSize, expect

from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import DESKTOP, PHONE, box
from tests.support.hubclient import OperatorClient, admin_on_socket
from tests.support.no_websockets import refusing_websockets
from tests.support.widget_page import bad_widget_text, part, shot, visitor_writes, widget

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]

POLL_KEY = "openlines.poll.demo"


@pytest.fixture
async def admin(hub: str) -> AsyncIterator[OperatorClient]:
    async with admin_on_socket(hub) as client:
        yield client


def bubble(page: Page, author: str, text: str) -> Locator:
    return (
        widget(page)
        .locator(f'[data-ol="message"][data-author="{author}"]')
        .filter(has=page.locator('[data-ol="text"]').get_by_text(text, exact=True))
    )


async def until(check: Callable[[], bool], within_s: float = 10) -> None:
    async with asyncio.timeout(within_s):
        while not check():
            await asyncio.sleep(0.05)


async def answer(admin: OperatorClient, text: str) -> None:
    """The operator answers the visitor's dialog."""
    dialog = (await admin.receive_until("dialog"))["dialog"]
    status, body = await admin.call("POST", f"/api/dialogs/{dialog['id']}/messages",
                                    {"text": text, "client_msg_id": "r1"})  # fmt: skip
    assert status == 202, body


async def test_behind_a_proxy_that_refuses_websockets_the_chat_goes_over_long_polls(
    hub: str, admin: OperatorClient, new_page: NewPage
) -> None:
    async with refusing_websockets(hub) as proxy:
        page = await new_page("visitor", viewport=DESKTOP)
        await page.goto(f"{proxy.url}/demo")
        await part(page, "launcher").click()
        await expect(part(page, "status")).to_have_text("We are online", timeout=15_000)
        # Two sockets, the poll link, and one more socket beside it, refused too: the tab
        # remembers that sockets fail here.
        await until(lambda: proxy.seen["refused websocket"] == 3)
        question = "Our office blocks websockets. Can you still hear me?"
        await visitor_writes(page, question)
        await answer(admin, "Loud and clear.")
        shown = bubble(page, "operator", "Loud and clear.")
        await expect(shown).to_be_visible()
        # In the conversation, inside the panel: not just somewhere in the page.
        panel, found = await box(part(page, "panel")), await box(shown)
        assert panel["y"] <= found["y"]
        assert found["y"] + found["height"] <= panel["y"] + panel["height"]
        assert await bad_widget_text(page) == []
        assert await page.evaluate(f"sessionStorage.getItem('{POLL_KEY}')") is not None
        await shot(page, "widget-long-poll-desktop")

        # The next page of the site goes straight to long polls and shows the conversation.
        await page.set_viewport_size(ViewportSize(width=PHONE["width"], height=PHONE["height"]))
        await page.reload()  # the chat stays open, as the visitor left it
        await expect(bubble(page, "operator", "Loud and clear.")).to_be_visible()
        await expect(bubble(page, "visitor", question)).to_be_visible()
        await expect(part(page, "status")).to_have_text("We are online")
        await visitor_writes(page, "Thanks!")
        assert proxy.seen["refused websocket"] == 3
        assert proxy.seen["/widget/poll"] == 2
        await shot(page, "widget-long-poll-phone")


async def test_sockets_that_failed_for_a_while_come_back(
    hub: str, admin: OperatorClient, new_page: NewPage
) -> None:
    """Two sockets refused, as while the hub restarted: the poll link carries the chat until
    a socket beside it opens, then the widget is back on a socket."""
    async with refusing_websockets(hub, first=2) as proxy:
        page = await new_page("visitor", viewport=DESKTOP)
        await page.goto(f"{proxy.url}/demo")
        await part(page, "launcher").click()
        await expect(part(page, "status")).to_have_text("We are online", timeout=15_000)
        await until(lambda: proxy.seen["websocket"] == 2)  # the probe, then the chat's own
        await until(lambda: any(path.endswith("/close") for path in proxy.seen))
        await visitor_writes(page, "Is it working again?")
        await answer(admin, "It is.")
        await expect(bubble(page, "operator", "It is.")).to_be_visible()
        assert proxy.seen["/widget/poll"] == 1
        assert await page.evaluate(f"sessionStorage.getItem('{POLL_KEY}')") is None
