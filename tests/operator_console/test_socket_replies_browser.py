"""The console sends replies over its live socket, and posts one whenever the socket cannot
answer: what the operator sees is the same either way, and the visitor gets the reply once."""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import Page, Request, WebSocketRoute, expect

from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, box, inside, sign_in
from tests.support.hubclient import VisitorClient

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]

ID = re.compile(r"^\d+$")
MESSAGES_POST = re.compile(r"/api/dialogs/\d+/messages$")


def replies_posted(page: Page) -> list[str]:
    """The URLs of the reply POSTs the page makes from now on."""
    posted: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and MESSAGES_POST.search(request.url):
            posted.append(request.url)

    page.on("request", on_request)
    return posted


def reply_frames(page: Page) -> list[dict[str, object]]:
    """The reply frames the page sends on its sockets from now on."""
    sent: list[dict[str, object]] = []

    def on_frame(payload: str | bytes) -> None:
        frame = json.loads(payload)
        if isinstance(frame, dict) and frame.get("type") == "reply":
            sent.append(frame)

    page.on("websocket", lambda ws: ws.on("framesent", on_frame))
    return sent


async def open_dialog(console: Page, visitor: VisitorClient, question: str) -> None:
    await visitor.say(question)
    item = console.locator('[data-ol="dialog-list"] [data-ol="dialog"]').first
    await item.locator("button").first.click()
    client = console.locator('[data-ol="messages"] [data-ol="message"][data-author="client"]')
    await expect(client.filter(has_text=question)).to_have_attribute("data-id", ID)


async def send(console: Page, text: str) -> None:
    await console.locator('[data-ol="reply"]').fill(text)
    await console.locator('[data-ol="send"]').click()
    mine = console.locator('[data-ol="messages"] [data-ol="message"][data-author="operator"]')
    # Stored: the bubble has its id from the hub, and nothing says "Sending…" any more.
    await expect(mine.filter(has_text=text)).to_have_attribute("data-id", ID)
    await expect(console.locator(".msg-time--pending")).to_have_count(0)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_reply_goes_over_the_socket_and_reaches_the_visitor(
    hub: str, new_page: NewPage, viewport: dict[str, int]
) -> None:
    console = await new_page("console", viewport=viewport)
    frames = reply_frames(console)
    posted = replies_posted(console)
    await sign_in(console, hub)
    visitor = VisitorClient(hub)
    try:
        await visitor.connect()
        await open_dialog(console, visitor, "Do you ship to Kazan?")
        await send(console, "Yes, in three days.")
        got = await visitor.receive_until("message", text="Yes, in three days.")
        assert got["author"] == "operator"
        assert [f["text"] for f in frames] == ["Yes, in three days."]
        assert posted == []

        # The conversation as the operator sees it: both messages, the reply box in view.
        bubbles = console.locator('[data-ol="messages"] [data-ol="message"]')
        await expect(bubbles.filter(has_text="Yes, in three days.")).to_be_visible()
        assert inside(await box(console.locator('[data-ol="reply"]')), viewport)
        assert await bad_text_nodes(console) == []
    finally:
        await visitor.close()


async def test_a_reply_the_socket_drops_is_posted_and_stored_once(
    hub: str, new_page: NewPage
) -> None:
    console = await new_page("console", viewport=DESKTOP)
    dropped: list[str] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        async def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "reply" and not dropped:
                # The connection dies with the reply in it: the hub never sees that frame.
                dropped.append(str(frame["client_msg_id"]))
                await server.close()
                return
            server.send(message)

        ws.on_message(from_page)

    await console.route_web_socket(re.compile(r"/api/ws"), route)
    posted = replies_posted(console)
    await sign_in(console, hub)
    visitor = VisitorClient(hub)
    try:
        await visitor.connect()
        await open_dialog(console, visitor, "Is the shop open on Sunday?")
        await send(console, "Yes, from ten to six.")
        assert len(dropped) == 1 and len(posted) == 1
        await visitor.receive_until("message", text="Yes, from ten to six.")
        # The console comes back live by itself, and the next reply goes over the socket.
        await expect(console.locator('[data-ol="conn"]')).to_have_attribute(
            "data-state", "online", timeout=15_000
        )
        await send(console, "See you then.")
        assert len(posted) == 1
        mine = console.locator('[data-ol="messages"] [data-ol="message"][data-author="operator"]')
        await expect(mine).to_have_count(2)
        await expect(console.locator("#send-error")).to_be_hidden()
    finally:
        await visitor.close()
