"""The console's everyday tools as a person uses them at 1280×800 and 375×667: the "/" quick
answers picker, search that opens a dialog at the message found, keyboard shortcuts and their
"?" list, Ctrl+Enter as a chosen send key, long replies with their parts count, and the
Answers screen's CSV import errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import FilePayload, Page, expect

from core.db import SessionMaker
from core.envelope import utcnow
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, box, sign_in
from tests.support.console_world import World, add_dialog, logged_in
from tests.support.hubclient import VisitorClient

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    # The database backends are covered by the API tests; one is enough for what is seen.
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(90),
]

SIZES = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


async def open_page(new_page: NewPage, hub: str, viewport: dict[str, int]) -> Page:
    phone = viewport == PHONE
    page = await new_page("console", viewport=viewport, is_mobile=phone, has_touch=phone)
    await sign_in(page, hub)
    return page


async def open_dialog(page: Page, dialog_id: int) -> None:
    await page.evaluate("id => { location.hash = `#/dialogs/${id}`; }", dialog_id)
    await expect(page.locator('[data-ol="messages"] [data-ol="message"]').first).to_be_visible()


async def focused(page: Page) -> str:
    """The data-ol (or id) of the focused element."""
    found: str = await page.evaluate(
        "() => { const a = document.activeElement; return a.dataset.ol || a.id || a.tagName; }"
    )
    return found


@SIZES
async def test_slash_opens_quick_answers_above_the_reply_box_and_enter_inserts_the_rendered_one(
    hub: str, world: World, new_page: NewPage, viewport: dict[str, int]
) -> None:
    admin = await logged_in(hub, "admin")
    for title, text in [
        ("Greeting", "Hello, {client_name}! I am {operator_name}."),
        ("Goodbye", "Bye, {client_name}."),
        ("Delivery", "It ships in 2 days."),
    ]:
        status, body = await admin.call(
            "POST", "/api/answers", {"title": title, "text": text, "line_id": world.demo_line}
        )
        assert status == 201, body
    await admin.close()
    page = await open_page(new_page, hub, viewport)
    await open_dialog(page, world.dialogs["olga"])
    reply = page.locator('[data-ol="reply"]')
    await reply.click()
    await reply.press_sequentially("Hi /g")
    picker = page.locator('[data-ol="answers-picker"]')
    options = picker.locator('[data-ol="answer-option"]')
    await expect(picker).to_be_visible()
    await expect(options.first).to_contain_text("Goodbye")
    await expect(options.filter(has_text="Delivery")).to_have_count(0)
    # Above the reply box, inside the window, not over the box itself.
    shown, under = await box(picker), await box(reply)
    assert shown["y"] >= 0 and shown["y"] + shown["height"] <= under["y"] + 0.5
    assert shown["x"] >= 0 and shown["x"] + shown["width"] <= viewport["width"] + 0.5

    await reply.press_sequentially("re")
    await expect(options.first).to_contain_text("Greeting")
    await reply.press("ArrowDown")
    await reply.press("ArrowUp")
    await expect(options.first).to_have_attribute("aria-selected", "true")
    await reply.press("Enter")
    await expect(picker).to_be_hidden()
    await expect(reply).to_have_value("Hi Hello, Анна Петрова! I am Administrator.")
    await expect(page.locator('[data-ol="message"]')).to_have_count(2)  # Enter did not send

    await reply.press_sequentially(" /")
    await expect(picker).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(picker).to_be_hidden()
    assert await focused(page) == "reply"
    assert await bad_text_nodes(page) == []


@SIZES
async def test_search_for_a_cyrillic_word_opens_the_closed_dialog_at_the_message(
    hub: str, world: World, db: SessionMaker, new_page: NewPage, viewport: dict[str, int]
) -> None:
    texts = ["Мой самовар протекает"] + [f"сообщение номер {i}" for i in range(60)]
    dialog_id, ids = await add_dialog(
        db,
        1,
        world.demo_line,
        "Борис",
        texts,
        operator_id=None,
        status="closed",
        at=utcnow() - timedelta(days=2),
    )
    page = await open_page(new_page, hub, viewport)
    await page.keyboard.press("Control+k")
    assert await focused(page) == "search"
    await page.keyboard.type("САМОВАР")
    await page.keyboard.press("Enter")
    hit = page.locator('[data-ol="search-hit"]')
    await expect(hit).to_have_count(1)
    await expect(hit.locator('[data-ol="search-snippet"]')).to_have_text("Мой самовар протекает")
    assert await bad_text_nodes(page) == []

    await hit.click()
    found = page.locator(f'[data-ol="message"][data-id="{ids[0]}"]')
    await expect(found).to_be_in_viewport()
    await expect(found).to_have_attribute("data-found", "true")
    await expect(page.locator('[data-ol="conv-status"]')).to_have_text("Closed")
    assert dialog_id == int(await page.evaluate("() => location.hash.split('/')[2]"))


async def test_search_filters_narrow_the_results(hub: str, world: World, new_page: NewPage) -> None:
    page = await open_page(new_page, hub, DESKTOP)
    search = page.locator('[data-ol="search"]')
    await search.fill("привет")
    await search.press("Enter")
    await expect(page.locator('[data-ol="search-hit"]')).to_have_count(2)
    await page.locator('[data-ol="search-filters-toggle"]').click()
    await expect(page.locator('[data-ol="search-status"] option')).to_have_count(4)
    await page.locator('[data-ol="search-status"]').select_option("closed")
    await expect(page.locator('[data-ol="search-hit"]')).to_have_count(1)
    await expect(page.locator('[data-ol="search-hit"]')).to_have_attribute(
        "data-dialog-id", str(world.dialogs["petr"])
    )
    await search.press("Escape")
    await expect(page.locator('[data-ol="search-results"]')).to_be_hidden()
    await expect(page.locator('[data-ol="dialog-list"]')).to_be_visible()


@SIZES
async def test_alt_arrows_move_through_the_list_and_question_mark_lists_the_shortcuts(
    hub: str, world: World, db: SessionMaker, new_page: NewPage, viewport: dict[str, int]
) -> None:
    await add_dialog(db, 1, world.demo_line, "Вера", ["второй диалог"], operator_id=None)
    page = await open_page(new_page, hub, viewport)
    items = page.locator('[data-ol="dialog-list"] [data-ol="dialog"] button')
    await expect(items).to_have_count(2)
    await page.keyboard.press("Alt+ArrowDown")
    await expect(items.nth(0)).to_have_attribute("aria-current", "true")
    await page.keyboard.press("Alt+ArrowDown")
    await expect(items.nth(1)).to_have_attribute("aria-current", "true")
    await expect(items.nth(0)).to_have_attribute("aria-current", "false")
    await page.keyboard.press("Alt+ArrowUp")
    await expect(items.nth(0)).to_have_attribute("aria-current", "true")

    await page.locator('[data-ol="conv-name"]').click()  # focus leaves the reply box
    await page.keyboard.press("Shift+Slash")
    overlay = page.locator('[data-ol="shortcuts"]')
    await expect(overlay).to_be_visible()
    for keys in ["Alt + ↑ / ↓", "Ctrl + K", "Esc", "?"]:
        await expect(
            overlay.locator('[data-ol="shortcut"] kbd', has_text=keys).first
        ).to_be_visible()
    assert await focused(page) == "shortcuts-close"
    await page.keyboard.press("Tab")  # modal: focus stays inside
    assert await focused(page) == "shortcuts-close"
    assert inside_viewport(await box(overlay.locator('[role="dialog"]')), viewport)
    await page.keyboard.press("Escape")
    await expect(overlay).to_be_hidden()
    assert await focused(page) in {"BODY", "conv-name"}
    # "/" outside a text field starts a quick answer in the reply box.
    await page.keyboard.press("Slash")
    assert await focused(page) == "reply"
    await expect(page.locator('[data-ol="reply"]')).to_have_value("/")
    await expect(page.locator('[data-ol="answers-picker"]')).to_be_visible()


def inside_viewport(found: Any, viewport: dict[str, int]) -> bool:
    return bool(
        found["x"] >= 0
        and found["y"] >= 0
        and found["x"] + found["width"] <= viewport["width"] + 0.5
        and found["y"] + found["height"] <= viewport["height"] + 0.5
    )


async def test_ctrl_k_focuses_search_and_ctrl_enter_sends_when_chosen(
    hub: str, new_page: NewPage
) -> None:
    visitor = VisitorClient(hub)
    await visitor.connect()
    await visitor.say("Hello?")
    try:
        page = await open_page(new_page, hub, DESKTOP)
        await page.locator('[data-ol="dialog"] button').first.click()
        reply = page.locator('[data-ol="reply"]')
        await reply.click()
        await page.keyboard.press("Control+k")
        assert await focused(page) == "search"
        await page.keyboard.press("Escape")

        await page.locator('[data-ol="settings-open"]').click()
        await page.locator('[data-ol="send-key-ctrl-enter"]').check()
        await page.keyboard.press("Escape")
        await expect(page.locator('[data-ol="settings"]')).to_be_hidden()
        await page.reload()
        await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
        await reply.fill("first line")
        await reply.press("Enter")
        await reply.press_sequentially("second line")
        await expect(reply).to_have_value("first line\nsecond line")
        await reply.press("Control+Enter")
        await expect(reply).to_have_value("")
        frame = await visitor.receive_until("message", author="operator")
        assert message_text(frame) == "first line\nsecond line"
    finally:
        await visitor.close()


def message_text(frame: dict[str, Any]) -> str:
    text = frame.get("text")
    if text is None:
        text = frame["message"]["text"]
    return str(text)


async def test_a_20000_character_reply_is_sent_and_arrives(hub: str, new_page: NewPage) -> None:
    visitor = VisitorClient(hub)
    await visitor.connect()
    await visitor.say("Send me the whole contract, please")
    try:
        page = await open_page(new_page, hub, DESKTOP)
        await page.locator('[data-ol="dialog"] button').first.click()
        long_text = "word " * 3999 + "word!"
        assert len(long_text) == 20_000
        reply = page.locator('[data-ol="reply"]')
        await reply.fill(long_text)
        await expect(reply).to_have_value(long_text)
        # A web chat never splits: no parts count.
        await expect(page.locator('[data-ol="reply-parts"]')).to_be_hidden()
        await reply.press("Enter")
        frame = await visitor.receive_until("message", author="operator")
        assert message_text(frame) == long_text
        await expect(page.locator('[data-ol="message"][data-author="operator"]')).to_have_count(1)
        await expect(page.locator('[data-ol="send-error"]')).to_be_hidden()
    finally:
        await visitor.close()


async def test_parts_count_follows_the_channel_limit(
    hub: str, world: World, db: SessionMaker, new_page: NewPage
) -> None:
    dialog_id, _ = await add_dialog(
        db,
        world.ids["sales_tg"],
        world.sales_line,
        "Telegram client",
        ["long answer please"],
        operator_id=None,
    )
    page = await open_page(new_page, hub, DESKTOP)
    await open_dialog(page, dialog_id)
    parts = page.locator('[data-ol="reply-parts"]')
    reply = page.locator('[data-ol="reply"]')
    await reply.fill("x" * 4096)
    await expect(parts).to_be_hidden()
    await reply.fill("x" * 20_000)
    await expect(parts).to_be_visible()
    await expect(parts).to_contain_text("5 parts")
    counts = await page.evaluate(
        """async () => {
          const { partsOf } = await import("/static/reply_parts.js");
          return [partsOf(0, 4096), partsOf(1, 4096), partsOf(4096, 4096), partsOf(4097, 4096),
                  partsOf(20000, 7000), partsOf(20000, 9000), partsOf(20000, null)];
        }"""
    )
    assert counts == [0, 1, 1, 2, 3, 3, 1]


@SIZES
async def test_answers_screen_manages_answers_and_shows_a_csv_error_by_its_control(
    hub: str, world: World, new_page: NewPage, viewport: dict[str, int]
) -> None:
    page = await open_page(new_page, hub, viewport)
    if viewport == PHONE:
        await page.locator('[data-ol="nav-toggle"]').click()
    await page.locator('[data-ol="nav-answers"]').click()
    await page.locator('[data-ol="answer-new"]').click()
    await page.locator('[data-ol="answer-title"]').fill("Thanks")
    await page.locator('[data-ol="answer-text"]').fill("Thank you, {client_name}!")
    await page.locator('[data-ol="answer-save"]').click()
    personal = page.locator('[data-ol="answers-personal"] [data-ol="answer"]')
    await expect(personal).to_have_count(1)
    await expect(personal.locator('[data-ol="answer-edit"]')).to_be_visible()

    line = page.locator(f'[data-ol="answers-line"][data-line-id="{world.sales_line}"]')
    await line.locator('[data-ol="answers-import"]').set_input_files(
        files=[FilePayload(name="a.csv", mimeType="text/csv", buffer=b"title,text\n,no title\n")]
    )
    error = line.locator('[data-ol="answers-import-error"]')
    await expect(error).to_contain_text("Row 2")
    await expect(error).to_contain_text("title")
    # Next to the control it is about: just under the Import button, within the section.
    control = await box(line.locator("label.answers-import"))
    shown = await box(error)
    assert 0 <= shown["y"] - (control["y"] + control["height"]) <= 40, (control, shown)
    await line.locator('[data-ol="answers-import"]').set_input_files(
        files=[
            FilePayload(
                name="a.csv", mimeType="text/csv", buffer="title,text\nHi,Привет!\n".encode()
            )
        ]
    )
    await expect(line.locator('[data-ol="answer"]')).to_have_count(1)
    await expect(error).to_have_count(0)
    assert await bad_text_nodes(page) == []


# The focused element's name and whether a ring of 3:1 or more against the background behind
# it shows: its own outline or box-shadow, or its wrapper's (a select inside a styled label).
_FOCUS_RING = """() => {
  const a = document.activeElement;
  const rgb = (s) => (s.match(/[\\d.]+/g) || [0, 0, 0]).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = c.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (x, y) => {
    const [hi, lo] = [lum(x), lum(y)].sort((p, q) => q - p);
    return (hi + 0.05) / (lo + 0.05);
  };
  const background = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const bg = getComputedStyle(n).backgroundColor;
      const parts = bg.match(/[\\d.]+/g) || [];
      if (parts.length === 3 || (parts.length === 4 && Number(parts[3]) > 0.99)) return rgb(bg);
    }
    return [255, 255, 255];
  };
  const ring = (node) => {
    const cs = getComputedStyle(node);
    if (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2) return rgb(cs.outlineColor);
    const colors = cs.boxShadow.match(/rgba?\\([^)]*\\)/g);
    return colors ? rgb(colors[colors.length - 1]) : null;
  };
  const holder = a.closest("[data-ol]");
  const name = a.dataset.ol || (holder && holder.dataset.ol) || a.id || a.tagName;
  for (const node of [a, a.parentElement]) {
    const color = node && ring(node);
    const behind = background(node.parentElement || node);
    if (color && ratio(color, behind) >= 3) return { name, ok: true };
  }
  return { name, ok: false };
}"""


@SIZES
async def test_every_control_is_reached_by_tab_and_visibly_focused(
    hub: str, world: World, new_page: NewPage, viewport: dict[str, int]
) -> None:
    page = await open_page(new_page, hub, viewport)
    await open_dialog(page, world.dialogs["olga"])
    await page.locator('[data-ol="conv-name"]').click()
    seen: list[str] = []
    for _ in range(45):
        await page.keyboard.press("Tab")
        focus = await page.evaluate(_FOCUS_RING)
        if focus["name"] == "BODY":  # past the last control: the next Tab starts again
            continue
        assert focus["ok"], f"no visible focus ring on {focus['name']} after {seen}"
        seen.append(focus["name"])
    wanted = {"settings-open", "logout", "reply", "send", "close-dialog", "presence"}
    if viewport == DESKTOP:
        wanted |= {"search", "search-filters-toggle", "dialog", "nav-answers"}
    assert wanted <= set(seen), seen


async def test_reply_box_reads_the_slash_word_and_the_chosen_send_key(
    hub: str, new_page: NewPage
) -> None:
    page = await open_page(new_page, hub, DESKTOP)
    found = await page.evaluate(
        """async () => {
          const { slashWordAt } = await import("/static/quick_answers.js");
          const { isSendKey } = await import("/static/reply_box.js");
          const key = (init) => new KeyboardEvent("keydown", { key: "Enter", ...init });
          return {
            words: [slashWordAt("Hi /gre", 7), slashWordAt("/", 1), slashWordAt("Hi /greet you", 5),
                    slashWordAt("a/b", 3), slashWordAt("http://x", 8)],
            enter: [isSendKey(key({}), false), isSendKey(key({ shiftKey: true }), false),
                    isSendKey(key({ ctrlKey: true }), false)],
            ctrlEnter: [isSendKey(key({}), true), isSendKey(key({ ctrlKey: true }), true),
                        isSendKey(key({ metaKey: true }), true)],
          };
        }"""
    )
    assert found["words"] == [
        {"start": 3, "end": 7, "query": "gre"},
        {"start": 0, "end": 1, "query": ""},
        {"start": 3, "end": 9, "query": "greet"},
        None,
        None,
    ]
    assert found["enter"] == [True, False, True]
    assert found["ctrlEnter"] == [False, True, True]
