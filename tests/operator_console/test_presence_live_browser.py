"""Presence and live lists across two operators' browsers (two Chromium contexts, like two
people): the selector shows what the server holds, closing a browser takes the operator
offline after the grace and their offer passes on, a transfer moves the dialog between the two
lists live, a new dialog badges the list and the title, and a burst of messages to many
dialogs, drawn once when it has arrived, leaves every item right.

Screenshots of each screen go to ``OPENLINES_SHOTS`` when it is set, at 1280×800 and 375×667.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, ViewportSize, expect
from sqlalchemy import delete, select

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.schema import Line, LineOperator, Operator
from operator_console.auth import hash_password
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, box
from tests.support.hubclient import VisitorClient

NewPage = Callable[..., Awaitable[Page]]
PASSWORD = "operator-password-1"
GRACE_S = 1.5
GREETING = "Hello! An operator will be with you shortly."

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(90),
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"presence_grace_s": GRACE_S})


@pytest.fixture
async def desk(settings: Settings, hub: str) -> dict[str, int]:
    """The demo line offers dialogs to Alice first, then Bob, and greets every client."""
    engine = make_engine(settings.effective_database_url)
    ids: dict[str, int] = {}
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            line = await s.scalar(select(Line).where(Line.key == "demo"))
            assert line is not None
            line.distribution = "sequence"
            line.settings = {"offer_seconds": 600, "auto_replies": {"greeting": GREETING}}
            await s.execute(delete(LineOperator).where(LineOperator.line_id == line.id))
            for position, login in enumerate(["alice", "bob"]):
                op = Operator(
                    login=login,
                    name=login.title(),
                    role="operator",
                    password_hash=hash_password(PASSWORD),
                )
                s.add(op)
                await s.flush()
                s.add(LineOperator(line_id=line.id, operator_id=op.id, position=position))
                ids[login] = op.id
    finally:
        await engine.dispose()
    return ids


@pytest.fixture
async def visitors(hub: str) -> AsyncIterator[Callable[[], Awaitable[VisitorClient]]]:
    made: list[VisitorClient] = []

    async def make() -> VisitorClient:
        client = VisitorClient(hub)
        await client.connect()
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            await client.close()


async def sign_in(page: Page, hub: str, login: str) -> None:
    await page.goto(f"{hub}/")
    await page.locator('[data-ol="login"]').fill(login)
    await page.locator('[data-ol="password"]').fill(PASSWORD)
    await page.locator('[data-ol="login-submit"]').click()
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")


def items(page: Page) -> Locator:
    return page.locator('[data-ol="dialog-list"] [data-ol="dialog"]')


async def shot(page: Page, name: str) -> None:
    folder = os.environ.get("OPENLINES_SHOTS")
    if not folder:
        return
    was = page.viewport_size or ViewportSize(width=DESKTOP["width"], height=DESKTOP["height"])
    for width, height in ((DESKTOP["width"], DESKTOP["height"]), (PHONE["width"], PHONE["height"])):
        await page.set_viewport_size(ViewportSize(width=width, height=height))
        # Playwright creates the folder.
        await page.screenshot(path=Path(folder) / f"{name}-{width}x{height}.png")
    await page.set_viewport_size(was)


async def selected_presence(page: Page) -> str:
    text: str = await page.locator('[data-ol="presence"]').evaluate(
        "(s) => s.options[s.selectedIndex].textContent"
    )
    return text.strip()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_freshly_signed_in_operator_sees_online_as_the_server_holds_it(
    hub: str, desk: dict[str, int], new_page: NewPage, viewport: dict[str, int]
) -> None:
    page = await new_page("alice", viewport=viewport)
    await sign_in(page, hub, "alice")
    await expect(page.locator('[data-ol="presence"]')).to_have_value("online")
    assert await selected_presence(page) == "Online"
    me = await page.evaluate("fetch('/api/me').then((r) => r.json())")
    assert me["operator"]["status"] == "online"
    # And on a reload, from /api/me and the socket's hello alike.
    await page.reload()
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
    await expect(page.locator('[data-ol="presence"]')).to_have_value("online")
    await expect(page.locator("#presence-wrap")).to_have_attribute("data-status", "online")
    await shot(page, "presence-selector")


async def test_closing_the_browser_takes_the_operator_offline_and_the_offer_passes_on(
    hub: str,
    desk: dict[str, int],
    new_page: NewPage,
    visitors: Callable[[], Awaitable[VisitorClient]],
) -> None:
    alice = await new_page("alice", viewport=DESKTOP)
    bob = await new_page("bob", viewport=DESKTOP)
    await sign_in(alice, hub, "alice")
    await sign_in(bob, hub, "bob")
    visitor = await visitors()
    await visitor.say("Where is my parcel?")

    # Offered to Alice; Bob sees it waiting on the line, not offered to him.
    await expect(items(alice)).to_have_count(1)
    await expect(items(bob)).to_have_count(1)
    await items(bob).first.locator("button").click()
    offer = bob.locator('[data-ol="offer"]')
    await expect(offer).to_be_hidden()

    await alice.context.close()
    # After the grace, without a reload, Bob is offered the dialog.
    await expect(offer).to_be_visible(timeout=GRACE_S * 1000 + 8000)
    await expect(offer).to_contain_text("This dialog is offered to you.")
    await expect(bob.locator('[data-ol="take"]')).to_be_visible()
    conversation = await box(bob.locator('[data-ol="conversation"]'))
    offer_box = await box(offer)
    assert conversation["y"] <= offer_box["y"] < conversation["y"] + conversation["height"]
    listed = (await bob.evaluate("fetch('/api/dialogs').then((r) => r.json())"))["dialogs"]
    assert [d["offered_to"] for d in listed] == [[desk["bob"]]]
    status = await bob.evaluate("fetch('/api/colleagues').then((r) => r.json())")
    assert {o["login"]: o["status"] for o in status["operators"]}["alice"] == "offline"
    await shot(bob, "offer-passed-on")


async def test_a_transfer_moves_the_dialog_from_one_list_to_the_other_live(
    hub: str,
    desk: dict[str, int],
    new_page: NewPage,
    visitors: Callable[[], Awaitable[VisitorClient]],
) -> None:
    alice = await new_page("alice", viewport=DESKTOP)
    bob = await new_page("bob", viewport=DESKTOP)
    await sign_in(alice, hub, "alice")
    await sign_in(bob, hub, "bob")
    visitor = await visitors()
    await visitor.say("Can I change my delivery address?")

    await expect(items(alice)).to_have_count(1)
    # The preview is the client's question, not the line's greeting.
    await expect(items(alice).first.locator('[data-ol="preview"]')).to_have_text(
        "Can I change my delivery address?"
    )
    await items(alice).first.locator("button").click()
    await alice.locator('[data-ol="take"]').click()
    await expect(alice.locator('[data-ol="conv-status"]')).to_have_text("Open")
    # Alice holds it now: it leaves Bob's list live.
    await expect(items(bob)).to_have_count(0)

    await alice.locator('[data-ol="reply"]').fill("Yes, one moment please.")
    await alice.locator('[data-ol="reply"]').press("Enter")
    await visitor.receive_until("message", text="Yes, one moment please.")

    await alice.locator('[data-ol="routing-tools-toggle"]').click()
    target = alice.locator('[data-ol="transfer-target"]')
    options = [t.strip() for t in await target.locator("option").all_text_contents()]
    assert not any(t.startswith("Alice") for t in options), options
    assert any(t.startswith("Bob") for t in options), options
    await target.select_option(f"op:{desk['bob']}")
    await alice.locator('[data-ol="transfer"]').click()

    # Gone from Alice's list and conversation; in Bob's list, live, with nothing to skip.
    await expect(items(alice)).to_have_count(0)
    await expect(alice.locator("#list-empty")).to_have_text(
        "No open dialogs. New conversations will appear here."
    )
    await expect(items(bob)).to_have_count(1)
    bob_item = items(bob).first
    await expect(bob_item.locator('[data-ol="preview"]')).to_have_text(
        "Alice: Yes, one moment please."
    )
    sidebar = await box(bob.locator(".sidebar"))
    item_box = await box(bob_item)
    assert sidebar["x"] <= item_box["x"] and item_box["x"] + item_box["width"] <= (
        sidebar["x"] + sidebar["width"] + 0.5
    )
    await shot(alice, "transfer-sender")
    await shot(bob, "transfer-receiver")

    # Answered before the transfer, it is Bob's to keep: nothing to take or skip.
    await bob_item.locator("button").click()
    await expect(bob.locator('[data-ol="conv-status"]')).to_have_text("Open")
    await expect(bob.locator('[data-ol="skip"]')).to_be_hidden()
    await expect(bob.locator('[data-ol="take"]')).to_be_hidden()
    # The Closed tab does not show the dialog Bob has selected while it is open.
    await bob.locator('[data-ol="tab-closed"]').click()
    await expect(items(bob)).to_have_count(0)
    assert await bad_text_nodes(bob) == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_new_dialog_badges_the_list_and_the_title(
    hub: str,
    desk: dict[str, int],
    new_page: NewPage,
    visitors: Callable[[], Awaitable[VisitorClient]],
    viewport: dict[str, int],
) -> None:
    bob = await new_page("bob", viewport=viewport)
    await sign_in(bob, hub, "bob")
    await expect(bob).to_have_title("Openlines")
    first = await visitors()
    await first.say("First question")
    await expect(items(bob)).to_have_count(1)
    await expect(bob).to_have_title("(1) Openlines")
    badge = items(bob).first.locator('[data-ol="unread"]')
    await expect(badge).to_have_text("1")
    await expect(items(bob).first.locator('[data-ol="preview"]')).to_have_text("First question")
    badge_box = await box(badge)
    item_box = await box(items(bob).first)
    assert item_box["x"] < badge_box["x"] and badge_box["x"] + badge_box["width"] <= (
        item_box["x"] + item_box["width"] + 0.5
    )

    second = await visitors()
    await second.say("Second question")
    await expect(items(bob)).to_have_count(2)
    # Two dialogs with unread messages, however many messages each has.
    await expect(bob).to_have_title("(2) Openlines")
    await first.say("Anyone there?")
    again = items(bob).filter(has_text="Anyone there?")
    await expect(again.locator('[data-ol="unread"]')).to_have_text("2")
    await expect(bob).to_have_title("(2) Openlines")
    await shot(bob, "new-dialog-badges")


async def test_a_burst_of_messages_leaves_every_item_with_its_last_message_and_count(
    hub: str,
    desk: dict[str, int],
    new_page: NewPage,
    visitors: Callable[[], Awaitable[VisitorClient]],
) -> None:
    # A router batch reaches the console as many frames at once, and the list is drawn once
    # after them: every item must still end with its dialog's last message and unread count.
    count = 12
    bob = await new_page("bob", viewport=DESKTOP)
    await sign_in(bob, hub, "bob")
    people = [await visitors() for _ in range(count)]
    for i, person in enumerate(people):
        await person.say(f"Question {i}")
    await expect(items(bob)).to_have_count(count)

    follow_ups = [f"Follow-up {chr(ord('A') + i)}." for i in range(count)]
    pairs = zip(people, follow_ups, strict=True)
    await asyncio.gather(*(person.say(text) for person, text in pairs))
    for text in follow_ups:
        item = items(bob).filter(has_text=text)
        await expect(item.locator('[data-ol="preview"]')).to_have_text(text)
        await expect(item.locator('[data-ol="unread"]')).to_have_text("2")
    await expect(items(bob)).to_have_count(count)
    await expect(bob).to_have_title(f"({count}) Openlines")

    await people[3].say("One more from the fourth")
    top = items(bob).first
    await expect(top.locator('[data-ol="preview"]')).to_have_text("One more from the fourth")
    await expect(top.locator('[data-ol="unread"]')).to_have_text("3")
    await expect(items(bob)).to_have_count(count)
    await shot(bob, "burst-list")
