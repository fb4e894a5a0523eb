"""Fixtures for tests in a real browser: Debian's Chromium driven by Playwright.

``browser`` and ``new_page`` reach every test through tests/conftest.py. A browser test takes
the ``hub`` of tests/conftest.py on SQLite only, by marking its module ``ON_SQLITE``.

- ``browser`` (session): one headless Chromium for the whole session (``/usr/bin/chromium``;
  Playwright's own browser download is never used).
- ``new_page`` (function): opens a page in a new browser context (its own cookies and
  storage, like a separate person). Every page's console output and uncaught errors are
  recorded; when the test fails, each page is screenshotted into ``tmp_path`` and the log is
  written there and printed, so the failure report says what the browser saw.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    async_playwright,
    expect,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ACTION_TIMEOUT_MS = 10_000
"""Upper bound of one auto-waiting step (click, fill, expect); the hub answers in under 1 s."""

ON_SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""Runs a browser test's hub on SQLite only: the browser sees the same pages on either database."""

NewPage = Callable[..., Awaitable[Page]]
"""``await new_page(name, **context_options)``: a page in a fresh browser context."""

expect.set_options(timeout=ACTION_TIMEOUT_MS)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def _failed(item: pytest.Item) -> bool:
    reports = item.stash.get(_REPORTS, {})
    return any(r.failed for r in reports.values())


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    """One headless Chromium for the session."""
    browser = await playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield browser
    finally:
        await browser.close()


@pytest.fixture
async def new_page(
    browser: Browser, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[NewPage]:
    """Factory of pages, each in its own context; screenshots and logs on failure. Whatever
    a page's content security policy refused fails the test: the console must work under it."""
    contexts: list[BrowserContext] = []
    pages: list[tuple[str, Page]] = []
    log: list[str] = []
    refused: list[str] = []

    async def make(name: str, **context_options: Any) -> Page:
        context = await browser.new_context(**context_options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        pages.append((name, page))

        def on_console(message: ConsoleMessage) -> None:
            log.append(f"[{name}] console.{message.type}: {message.text}")
            # A refused frame-ancestors is another site framing the console: not the console.
            text = message.text
            if "Content Security Policy" in text and "frame-ancestors" not in text:
                refused.append(f"[{name}] {text}")

        def on_error(error: Exception) -> None:
            log.append(f"[{name}] pageerror: {error}")

        page.on("console", on_console)
        page.on("pageerror", on_error)
        page.on(
            "requestfailed",
            lambda req: log.append(f"[{name}] requestfailed: {req.method} {req.url} {req.failure}"),
        )
        return page

    try:
        yield make
    finally:
        if _failed(request.node):
            for name, page in pages:
                safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
                try:
                    await page.screenshot(
                        path=tmp_path / f"{safe}.png", full_page=True, animations="disabled"
                    )
                except Exception as exc:  # a crashed page must not hide the real failure
                    log.append(f"[{name}] screenshot failed: {exc}")
            (tmp_path / "browser.log").write_text("\n".join(log) + "\n", encoding="utf-8")
            print(f"\nscreenshots and browser.log in {tmp_path}")
            print("browser log:\n" + ("\n".join(log) or "(empty)"))
        for context in contexts:
            await context.close()
    assert not refused, refused
