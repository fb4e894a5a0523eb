"""The web chat as people use it: a visitor in the widget, an operator in the console.

Both sides run in one real Chromium (separate contexts: separate cookies and storage) against
a whole hub. Everything is checked through what the pages show, using the ``data-ol`` hooks
of the widget (inside its open shadow root, which Playwright's CSS locators pierce) and of
the console.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import Locator, Page, WebSocket, expect

from tests.support.browser_fixtures import ON_SQLITE, NewPage
from tests.support.console_page import DESKTOP, sign_in
from tests.support.widget_page import widget, widget_page

CHANNEL = "demo"
TOKEN_KEY = f"openlines.token.{CHANNEL}"
XSS_IMG = '<img src=x onerror="window.__pwned=1">'
XSS_B = "<b>bold</b>"
ID = re.compile(r"^\d+$")
ACTION_TIMEOUT_S = 10

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    # One Redis version is enough for the browser: the protocol tests cover both.
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(60),
]


# ---------------------------------------------------------------------------------------------
# Widget (visitor) helpers


def widget_messages(page: Page, author: str) -> Locator:
    return widget(page).locator(f'[data-ol="message"][data-author="{author}"]')


def widget_message(page: Page, author: str, text: str) -> Locator:
    """The widget's bubble of ``author`` whose text is exactly ``text``."""
    return widget_messages(page, author).filter(
        has=page.locator('[data-ol="text"]').get_by_text(text, exact=True)
    )


async def widget_send(page: Page, text: str) -> str:
    """Type and send ``text`` in the widget; return the message's id once it is delivered."""
    await widget(page).locator('[data-ol="input"]').fill(text)
    await widget(page).locator('[data-ol="send"]').click()
    bubble = widget_message(page, "visitor", text)
    await expect(bubble).to_have_attribute("data-state", "delivered")
    await expect(bubble).to_have_attribute("data-id", ID)
    message_id = await bubble.get_attribute("data-id")
    assert message_id is not None
    return message_id


async def pwned(page: Page) -> str:
    return str(await page.evaluate("typeof window.__pwned"))


# ---------------------------------------------------------------------------------------------
# Console (operator) helpers


def console_messages(page: Page, author: str) -> Locator:
    return page.locator(f'[data-ol="messages"] [data-ol="message"][data-author="{author}"]')


def console_message(page: Page, author: str, text: str) -> Locator:
    return console_messages(page, author).filter(
        has=page.locator(".msg-text").get_by_text(text, exact=True)
    )


def record_socket_frames(page: Page, sent: list[dict[str, object]], hello: asyncio.Event) -> None:
    """Collect every JSON frame the page sends on its websockets; set ``hello`` on a hello."""

    def on_socket(ws: WebSocket) -> None:
        def on_sent(payload: str | bytes) -> None:
            try:
                frame = json.loads(payload)
            except ValueError:
                return
            if isinstance(frame, dict):
                sent.append(frame)
                if frame.get("type") == "hello":
                    hello.set()

        ws.on("framesent", on_sent)

    page.on("websocket", on_socket)


# ---------------------------------------------------------------------------------------------
# Tests


async def test_visitor_and_operator_talk_live(hub: str, new_page: NewPage) -> None:
    console = await new_page("console", viewport=DESKTOP)

    # The operator is at work before anyone writes: an empty list, a live socket.
    await sign_in(console, hub)
    dialogs = console.locator('[data-ol="dialog-list"] [data-ol="dialog"]')
    await expect(dialogs).to_have_count(0)
    # A marker that only survives if the console page is never reloaded.
    await console.evaluate("window.__sameConsolePage = true")

    # 1. The visitor opens the widget on the demo shop and writes.
    visitor = await widget_page(new_page, hub)
    sent: list[dict[str, object]] = []
    hello = asyncio.Event()
    record_socket_frames(visitor, sent, hello)
    await expect(widget(visitor).locator('[data-ol="panel"]')).to_be_visible()
    question = "Hello! Is the Misty Ridge Oolong in stock?"
    question_id = await widget_send(visitor, question)

    # 2. The dialog shows up in the console by itself; the operator opens it and answers.
    await expect(dialogs).to_have_count(1)
    assert await console.evaluate("window.__sameConsolePage === true"), "the console reloaded"
    item = dialogs.first
    dialog_id = await item.get_attribute("data-dialog-id")
    assert dialog_id is not None and ID.match(dialog_id)
    await item.locator("button").first.click()
    await expect(console_message(console, "client", question)).to_have_attribute(
        "data-id", question_id
    )
    answer = "Yes, we have plenty. Steep it at 90 °C."
    await console.locator('[data-ol="reply"]').fill(answer)
    await console.locator('[data-ol="send"]').click()
    await expect(console_message(console, "operator", answer)).to_have_attribute("data-id", ID)
    answer_bubble = widget_message(visitor, "operator", answer)
    await expect(answer_bubble).to_have_attribute("data-id", ID)
    answer_id = await answer_bubble.get_attribute("data-id")

    # 3. A reload keeps the conversation: same token, both messages from the history.
    token = await visitor.evaluate(f"localStorage.getItem({json.dumps(TOKEN_KEY)})")
    assert isinstance(token, str) and token
    sent.clear()
    hello.clear()
    await visitor.reload()
    await asyncio.wait_for(hello.wait(), ACTION_TIMEOUT_S)
    hellos = [f for f in sent if f.get("type") == "hello"]
    assert hellos and hellos[0].get("token") == token, f"hello after reload: {hellos}"
    panel = widget(visitor).locator('[data-ol="panel"]')
    if not await panel.is_visible():
        await widget(visitor).locator('[data-ol="launcher"]').click()
    await expect(panel).to_be_visible()
    await expect(widget_message(visitor, "visitor", question)).to_have_attribute(
        "data-id", question_id
    )
    await expect(widget_message(visitor, "operator", answer)).to_have_attribute(
        "data-id", str(answer_id)
    )
    await expect(widget_messages(visitor, "visitor")).to_have_count(1)
    await expect(widget_messages(visitor, "operator")).to_have_count(1)
    assert await visitor.evaluate(f"localStorage.getItem({json.dumps(TOKEN_KEY)})") == token

    # 4. Whatever a client types reaches the console as text, never as markup.
    await widget_send(visitor, XSS_IMG)
    await widget_send(visitor, XSS_B)
    for text in (XSS_IMG, XSS_B):
        await expect(console_message(console, "client", text)).to_have_attribute("data-id", ID)
    shown = (
        await console_messages(console, "client")
        .locator(".msg-text")
        .evaluate_all("nodes => nodes.map((n) => n.textContent)")
    )
    assert shown == [question, XSS_IMG, XSS_B]
    for where in ('[data-ol="messages"]', '[data-ol="dialog-list"]'):
        await expect(console.locator(f"{where} img")).to_have_count(0)
        await expect(console.locator(f"{where} b")).to_have_count(0)
    await expect(widget(visitor).locator('[data-ol="panel"] img')).to_have_count(0)
    await expect(widget(visitor).locator('[data-ol="panel"] b')).to_have_count(0)
    assert await pwned(console) == "undefined"
    assert await pwned(visitor) == "undefined"

    # 5. The operator closes the dialog: the visitor is told, the list item says so.
    await console.locator('[data-ol="close-dialog"]').click()
    notice = widget_messages(visitor, "system").filter(has_text=re.compile("closed", re.I))
    await expect(notice.first).to_be_visible()
    await expect(
        console.locator(f'[data-ol="dialog"][data-dialog-id="{dialog_id}"]')
    ).to_have_attribute("data-status", "closed")
    assert await console.evaluate("window.__sameConsolePage === true"), "the console reloaded"


async def test_public_chat_page_on_a_phone(hub: str, new_page: NewPage) -> None:
    phone = await new_page(
        "phone",
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    await phone.goto(f"{hub}/chat/{CHANNEL}")
    field = widget(phone).locator('[data-ol="input"]')
    send = widget(phone).locator('[data-ol="send"]')
    await expect(widget(phone).locator('[data-ol="panel"]')).to_be_visible()
    await expect(field).to_be_in_viewport()
    await expect(send).to_be_in_viewport()
    # Nothing wider than the phone: no sideways scrolling.
    overflow = await phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"page is {overflow}px wider than the phone"

    text = "Hi from my phone — do you ship to Lisbon?"
    await field.fill(text)
    await send.tap()
    bubble = widget_message(phone, "visitor", text)
    await expect(bubble).to_have_attribute("data-state", "delivered")
    await expect(bubble).to_have_attribute("data-id", ID)
    await expect(bubble).to_be_in_viewport()
