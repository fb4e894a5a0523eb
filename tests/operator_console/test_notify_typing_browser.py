"""Typing indicators, read receipts, the unread title and the chime as people see and hear them:
a visitor in the widget and an operator in the console, in one real Chromium against a whole
hub.

Screenshots of each state go to ``$OPENLINES_SHOTS`` when that is set (for looking at them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import delete, select

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.schema import Line, LineOperator, Operator
from operator_console.auth import hash_password
from tests.support.browser_fixtures import NewPage
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, sign_in
from tests.support.console_world import logged_in
from tests.support.hubclient import VisitorClient
from tests.support.widget_page import shot, visitor_writes, widget, widget_page

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(120),
]


@pytest.fixture
async def others(hub: str) -> AsyncIterator[list[VisitorClient]]:
    """More visitors, writing without a browser."""
    clients: list[VisitorClient] = []
    yield clients
    for client in clients:
        await client.close()


async def visitor_asks(new_page: NewPage, hub: str, size: dict[str, int], text: str) -> Page:
    visitor = await widget_page(new_page, hub, viewport=size)
    await visitor_writes(visitor, text)
    return visitor


async def open_the_dialog(console: Page) -> None:
    dialogs = console.locator('[data-ol="dialog-list"] [data-ol="dialog"]')
    await expect(dialogs).to_have_count(1)
    await dialogs.first.locator("button").first.click()
    await expect(console.locator('[data-ol="messages"] [data-ol="message"]').first).to_be_visible()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280x800", "375x667"])
async def test_typing_both_ways_and_a_seen_reply(
    hub: str, new_page: NewPage, size: dict[str, int]
) -> None:
    tag = f"{size['width']}x{size['height']}"
    console = await new_page("console", viewport=size)
    await sign_in(console, hub)
    visitor = await visitor_asks(new_page, hub, size, "Do you ship to Oslo?")
    await open_the_dialog(console)

    # The visitor types: the open conversation says so, then forgets it after ~5 s.
    typing = console.locator('[data-ol="typing"]')
    # Typed for a little over the widget's 2 s between typing frames, like a person would.
    await (
        widget(visitor)
        .locator('[data-ol="input"]')
        .press_sequentially("Also, how long?", delay=170)
    )
    await expect(typing).to_have_text("Visitor is typing…")
    await shot(console, f"console-visitor-typing-{tag}")
    await expect(typing).to_be_hidden(timeout=9000)

    # The operator types: the widget says who.
    reply = console.locator('[data-ol="reply"]')
    await reply.press_sequentially("Yes, in three days", delay=20)
    widget_typing = widget(visitor).locator('[data-ol="typing"]')
    await expect(widget_typing).to_have_text("Administrator is typing…")
    await shot(visitor, f"widget-operator-typing-{tag}")

    # The reply reaches the open widget: delivered, then seen once the widget shows it.
    await console.locator('[data-ol="send"]').click()
    await expect(widget_typing).to_be_hidden()
    mine = console.locator('[data-ol="message"][data-author="operator"]')
    await expect(mine.locator('[data-ol="receipt"]')).to_have_text("Seen")
    await shot(console, f"console-seen-{tag}")
    assert await bad_text_nodes(console) == []

    # The bell leaves room for the rest of the top bar, and its switches fit on the screen.
    logout = await console.locator('[data-ol="logout"]').bounding_box()
    assert logout is not None and logout["x"] + logout["width"] <= size["width"], logout
    if size == PHONE:
        await console.locator('[data-ol="nav-toggle"]').click()
        await console.locator('[data-ol="notify-nav"]').click()
    else:
        await console.locator('[data-ol="notify-toggle"]').click()
    panel = console.locator('[data-ol="notify-panel"]')
    await expect(panel).to_contain_text("Desktop notifications")
    found = await panel.bounding_box()
    assert found is not None
    assert found["x"] >= 0 and found["x"] + found["width"] <= size["width"], found
    await shot(console, f"console-notify-panel-{tag}")


# The console as if the operator had granted notifications and looked at another window: every
# desktop notification is recorded instead of shown.
FAKE_NOTIFICATIONS = """
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push(title + ": " + ((options || {}).body || "")); }
  close() {}
};
window.Notification.permission = "granted";
window.Notification.requestPermission = () => Promise.resolve("granted");
document.hasFocus = () => false;
"""


async def notes(page: Page) -> list[str]:
    shown: list[str] = await page.evaluate("window.__notes")
    return shown


async def test_the_title_counts_dialogs_with_unread_messages(
    hub: str, new_page: NewPage, others: list[VisitorClient]
) -> None:
    console = await new_page("console", viewport=DESKTOP)
    await console.add_init_script(FAKE_NOTIFICATIONS)
    await sign_in(console, hub)
    await visitor_asks(new_page, hub, DESKTOP, "First question")
    await open_the_dialog(console)
    await expect(console).to_have_title("Openlines")

    dialogs = console.locator('[data-ol="dialog-list"] [data-ol="dialog"]')
    second = VisitorClient(hub)
    others.append(second)
    await second.connect()
    await second.say("A question in another dialog")
    await expect(dialogs).to_have_count(2)
    await second.say("and one more")
    # A new dialog already counts as unread; the preview shows when its next message arrived.
    await expect(console.locator('[data-ol="dialog"]', has_text="and one more")).to_have_count(1)
    await expect(console).to_have_title("(1) Openlines")
    shown = await notes(console)
    assert any(n.startswith("New dialog:") for n in shown), shown
    assert any(n.endswith(": and one more") for n in shown), shown
    await second.say("still waiting")  # the same dialog: still one dialog unread
    await expect(console.locator('[data-ol="dialog"]', has_text="still waiting")).to_have_count(1)
    await expect(console).to_have_title("(1) Openlines")

    third = VisitorClient(hub)
    others.append(third)
    await third.connect()
    await third.say("Hello from a third visitor")
    await expect(dialogs).to_have_count(3)
    await third.say("Anyone there?")
    await expect(console).to_have_title("(2) Openlines")
    await shot(console, "console-unread-title-1280x800")

    # The switches: each kind of notification can be turned off, and stays off.
    await console.locator('[data-ol="notify-toggle"]').click()
    sound = console.locator('[data-ol="notify-message"]')
    await expect(sound).to_be_checked()
    await shot(console, "console-notify-panel-1280x800")
    await sound.uncheck()
    await console.reload()
    await expect(console.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
    await console.locator('[data-ol="notify-toggle"]').click()
    await expect(console.locator('[data-ol="notify-message"]')).not_to_be_checked()
    await expect(console.locator('[data-ol="notify-panel"]')).to_contain_text(
        "Messages in other dialogs"
    )
    # Switched off: a message in another dialog no longer notifies; the title still counts.
    await third.say("Hello again")
    await expect(console.locator('[data-ol="dialog"]', has_text="Hello again")).to_have_count(1)
    assert not any(n.endswith(": Hello again") for n in await notes(console))


# Every tone the console makes, counted: a chime is two.
COUNT_TONES = """
window.__tones = 0;
const makeTone = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__tones += 1;
  return makeTone.call(this);
};
"""


async def tones_reach(page: Page, count: int) -> None:
    async with asyncio.timeout(10):
        while await page.evaluate("window.__tones") < count:
            await asyncio.sleep(0.05)


async def test_a_burst_of_messages_rings_once(
    hub: str, new_page: NewPage, others: list[VisitorClient]
) -> None:
    console = await new_page("console", viewport=DESKTOP)
    await console.add_init_script(COUNT_TONES)
    await sign_in(console, hub)  # its clicks let the page make sounds
    visitor = VisitorClient(hub)
    others.append(visitor)
    await visitor.connect()
    await visitor.say("Hello")
    await tones_reach(console, 2)  # the new dialog's chime

    await asyncio.sleep(1.2)
    for n in range(5):
        await visitor.say(f"Burst {n}")
    item = console.locator('[data-ol="dialog"]', has_text="Burst 4")
    await expect(item.locator('[data-ol="unread"]')).to_have_text("6")
    await tones_reach(console, 4)
    await asyncio.sleep(0.3)
    assert await console.evaluate("window.__tones") == 4  # one chime for the five

    await asyncio.sleep(1.2)
    await visitor.say("Later")
    await tones_reach(console, 6)


async def olga_answers_the_demo_line(settings: Settings) -> None:
    """The demo line's dialogs go to operator olga alone; the admin only supervises."""
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            line = await s.scalar(select(Line).where(Line.key == "demo"))
            assert line is not None
            await s.execute(delete(LineOperator).where(LineOperator.line_id == line.id))
            olga = Operator(
                login="olga", name="Olga", role="operator", password_hash=hash_password("pw-olga")
            )
            s.add(olga)
            await s.flush()
            s.add(LineOperator(line_id=line.id, operator_id=olga.id, position=0))
    finally:
        await engine.dispose()


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10) -> None:
    """Wait until ``check`` holds; fail naming ``what`` when it does not within ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:g} s: {what}") from None


async def test_a_supervisor_is_told_only_of_the_dialogs_it_answers_in(
    hub: str, settings: Settings, new_page: NewPage, others: list[VisitorClient]
) -> None:
    await olga_answers_the_demo_line(settings)
    olga = await logged_in(hub, "olga")
    admin = await logged_in(hub, "admin")
    try:
        await olga.wait_status("online")
        olga_id = (await olga.call("GET", "/api/me"))[1]["operator"]["id"]
        admin_id = (await admin.call("GET", "/api/me"))[1]["operator"]["id"]
        console = await new_page("console", viewport=DESKTOP)
        await console.add_init_script(FAKE_NOTIFICATIONS)
        await sign_in(console, hub)
        client = VisitorClient(hub)
        others.append(client)
        await client.connect()
        await client.say("A question for Olga")
        # The admin's list shows Olga's dialog and each of its messages as they come...
        item = console.locator('[data-ol="dialog"]', has_text="A question for Olga")
        await expect(item).to_have_count(1)
        dialog_id = int(await item.get_attribute("data-dialog-id") or 0)
        status, body = await admin.call("GET", f"/api/dialogs/{dialog_id}")
        assert status == 200 and body["dialog"]["operator_id"] == olga_id, body
        await client.say("Is anyone there?")
        await expect(
            console.locator('[data-ol="dialog"]', has_text="Is anyone there?")
        ).to_have_count(1)
        # ... without a tone or a notification: it is Olga's to answer. The list marks the
        # unread messages; the title, which counts what waits for the admin, does not.
        shown = await notes(console)
        assert not any(n.endswith(": Is anyone there?") for n in shown), shown
        assert not any(n.endswith(": A question for Olga") for n in shown), shown
        mark = console.locator(
            f'[data-ol="dialog"][data-dialog-id="{dialog_id}"] [data-ol="unread"]'
        )
        await expect(mark).to_have_text("2")
        await expect(console).to_have_title("Openlines")

        # Once the admin joins the dialog it answers there too, and hears of its messages.
        status, body = await admin.call("POST", f"/api/dialogs/{dialog_id}/join")
        assert status == 202, body

        async def joined() -> bool:
            dialog = (await admin.call("GET", f"/api/dialogs/{dialog_id}"))[1]["dialog"]
            return admin_id in dialog["participants"]

        await until(joined, "the admin joined")
        await client.say("Hello again")

        async def told() -> bool:
            return any(n.endswith(": Hello again") for n in await notes(console))

        await until(told, "the admin is told of the message")
        await expect(mark).to_have_text("3")
        await expect(console).to_have_title("(1) Openlines")
        await shot(console, "console-supervisor-joined-1280x800")
    finally:
        await olga.close()
        await admin.close()
