"""What the widget's browser tests do with a page: open the demo shop with the widget, read the
widget's parts inside its shadow root, text that leaks from bad templating, screenshots, and
the demo line's settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.async_api import Locator, Page, expect
from sqlalchemy import select

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.schema import Line
from tests.support.browser_fixtures import NewPage
from tests.support.console_page import BAD_TEXT, DESKTOP

HOST = "[data-openlines-widget]"


def widget(page: Page) -> Locator:
    """The widget's host element; locators below it reach into its open shadow root."""
    return page.locator(HOST)


def part(page: Page, hook: str) -> Locator:
    """The widget's element with ``data-ol=hook``."""
    return widget(page).locator(f'[data-ol="{hook}"]')


async def widget_page(
    new_page: NewPage, hub: str, name: str = "visitor", *, open_chat: bool = True, **context: Any
) -> Page:
    """A visitor's page on the hub's demo shop with the widget loaded, and opened with its
    launcher unless ``open_chat`` is false. ``context`` goes to ``new_page`` (a 1280×800
    viewport unless it names another)."""
    context.setdefault("viewport", DESKTOP)
    page = await new_page(name, **context)
    await page.goto(f"{hub}/demo")
    if open_chat:
        await part(page, "launcher").click()
    return page


async def shot(page: Page, name: str) -> None:
    """A screenshot into ``$OPENLINES_SHOTS`` when that is set, for people to look at."""
    where = os.environ.get("OPENLINES_SHOTS")
    if where:
        await page.screenshot(path=str(Path(where) / f"{name}.png"))


async def visitor_writes(page: Page, text: str) -> None:
    """Type and send ``text`` in the open widget; wait until the hub has stored it."""
    await part(page, "input").fill(text)
    await part(page, "send").click()
    mine = widget(page).locator('[data-ol="message"][data-author="visitor"]').last
    await expect(mine).to_have_attribute("data-state", "delivered")


_BAD_WIDGET_TEXT = """([host, bad]) => {
  const root = document.querySelector(host).shadowRoot;
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (bad.some((word) => node.textContent.includes(word))) out.push(node.textContent.trim());
  }
  return out;
}"""


async def bad_widget_text(page: Page) -> list[str]:
    """Texts in the widget that read "null", "undefined" or "[object Object]"."""
    found: list[str] = await page.evaluate(_BAD_WIDGET_TEXT, [HOST, list(BAD_TEXT)])
    return found


async def focused_hook(page: Page) -> str | None:
    """The ``data-ol`` of the widget element that has the keyboard focus, if any."""
    hook: str | None = await page.evaluate(
        """(host) => {
          const el = document.querySelector(host);
          if (document.activeElement !== el) return null;
          const inner = el.shadowRoot.activeElement;
          return inner ? inner.dataset.ol || inner.tagName : null;
        }""",
        HOST,
    )
    return hook


async def set_line_settings(settings: Settings, **values: Any) -> None:
    """Change the demo line's settings in the database (the hub reads them per event)."""
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            line = await s.scalar(select(Line).where(Line.key == "demo"))
            assert line is not None
            line.settings = {**(line.settings or {}), **values}
    finally:
        await engine.dispose()
