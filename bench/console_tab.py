"""A supervisor's console tab beside the benchmark's load (``--console-tab``).

The admin signs in to the console in Debian's chromium (headless, 1280×800) before the visitors
start, and so sees every dialog of the run open and every message arrive in the list, as a
supervisor watching a busy line does. Chrome's own counters (``Performance.getMetrics``) say how
long the tab's main thread worked over the load, and how much of it went to script, style and
layout; ``SystemInfo.getProcessInfo`` how much CPU all of chromium's processes used; and a
``PerformanceObserver`` in the page which of the tab's tasks were long enough to hold up a click
or a key. After the load, the tab's own module draws the list of every dialog of the run again a
number of times: what one drawing costs the tab.

The tab adds a browser to the two cores the hub runs on: figures of a run with it compare with
those of other runs with it only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from playwright.async_api import (
    Browser,
    CDPSession,
    Page,
    Playwright,
    ViewportSize,
    async_playwright,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
VIEWPORT = ViewportSize(width=1280, height=800)
COUNTERS = {
    "TaskDuration": "main_thread_s",
    "ScriptDuration": "script_s",
    "LayoutDuration": "layout_s",
    "RecalcStyleDuration": "style_s",
    "LayoutCount": "layouts",
}
"""Chrome's performance counters read, and the names they get in the report."""
DRAWS = 40
"""Drawings of the list timed after the load, for each kind; the medians are reported."""
MOVED = (1, 20, 100)
"""Dialogs that get a new message before each drawing of a burst."""
SIGN_IN_TIMEOUT_MS = 30_000

# Tasks of the tab's main thread over 50 ms ("long tasks"), which hold up what the operator
# types or clicks: how many, the time beyond 50 ms of each summed (Total Blocking Time), and the
# longest since the last read.
_LONG_TASKS = """(() => {
  const seen = { count: 0, blocking: 0, longest: 0 };
  window.__benchLongTasks = seen;
  new PerformanceObserver((found) => {
    for (const task of found.getEntries()) {
      seen.count += 1;
      seen.blocking += task.duration - 50;
      seen.longest = Math.max(seen.longest, task.duration);
    }
  }).observe({ type: "longtask" });
})();"""
_READ_LONG_TASKS = """() => {
  const seen = window.__benchLongTasks;
  const read = [seen.count, seen.blocking, seen.longest];
  seen.longest = 0;
  return read;
}"""

_DRAW = """async ([times, moved]) => {
  const list = await import("/static/dialog_list.js");
  const { state } = await import("/static/state.js");
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const still = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    list.renderList();
    still.push(performance.now() - start);
  }
  // A burst: `k` dialogs get a newer message each and move to the top. The drawing's script,
  // then the style and layout it leaves (forced here, as the next paint would run them).
  const bursts = {};
  const dialogs = [...state.dialogs.values()];
  let next = 1e12;
  for (const k of moved) {
    const script = [], layout = [];
    for (let i = 0; i < times; i++) {
      for (let j = 0; j < k; j++) {
        const d = dialogs[(i * k + j) % dialogs.length];
        const at = new Date(Date.now() + next - 1e12).toISOString();
        d.last_message = { ...(d.last_message || {}), id: next++, at, author: "client" };
      }
      const start = performance.now();
      list.renderList();
      const drawn = performance.now();
      void document.body.offsetHeight;
      layout.push(performance.now() - drawn);
      script.push(drawn - start);
    }
    bursts[k] = [median(script), median(layout)];
  }
  const items = document.querySelectorAll('[data-ol="dialog-list"] [data-ol="dialog"]').length;
  return [median(still), items, state.dialogs.size, bursts];
}"""


@dataclass
class TabFigures:
    """What the tab cost over the load."""

    main_thread_s: float
    script_s: float
    layout_s: float
    style_s: float
    layouts: float
    browser_cpu_s: float
    """CPU of all chromium's processes (browser, renderer, audio and the rest)."""
    long_tasks: float = 0
    """Tasks of the tab's main thread over 50 ms."""
    blocking_s: float = 0
    """Their time beyond 50 ms each, summed: how long input would have waited."""
    longest_ms: float = 0
    draw_ms: float = float("nan")
    """One drawing of the list after the load, the median of ``DRAWS``."""
    items: int = 0
    """Items the list drew: those in and near its viewport."""
    dialogs: int = 0
    """Dialogs in the list then."""
    bursts: dict[int, tuple[float, float]] = field(default_factory=dict)
    """For each of ``MOVED``: the median milliseconds of the drawing after that many dialogs got
    a new message, and of the style and layout it left."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class ConsoleTab:
    """The admin's console in a headless chromium; ``open`` it, read ``counters`` at the load's
    start and end, ``close`` it."""

    def __init__(
        self,
        playwright: Playwright,
        browser: Browser,
        page: Page,
        tab: CDPSession,
        whole: CDPSession,
    ) -> None:
        self._playwright = playwright
        self._browser = browser
        self.page = page
        self._tab = tab
        self._whole = whole

    @classmethod
    async def open(cls, base: str, login: str, password: str) -> ConsoleTab:
        """Sign ``login`` in at the console at ``base`` and wait for its live socket."""
        playwright = await async_playwright().start()
        try:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            page = await browser.new_page(viewport=VIEWPORT)
            await page.add_init_script(_LONG_TASKS)
            await page.goto(f"{base}/")
            await page.locator('[data-ol="login"]').fill(login)
            await page.locator('[data-ol="password"]').fill(password)
            await page.locator('[data-ol="login-submit"]').click()
            await page.locator('[data-ol="conn"][data-state="online"]').wait_for(
                timeout=SIGN_IN_TIMEOUT_MS
            )
            tab = await page.context.new_cdp_session(page)
            await tab.send("Performance.enable")
            whole = await browser.new_browser_cdp_session()
        except BaseException:
            await playwright.stop()
            raise
        return cls(playwright, browser, page, tab, whole)

    async def counters(self) -> dict[str, float]:
        """The tab's counters and chromium's CPU seconds so far."""
        metrics = (await self._tab.send("Performance.getMetrics"))["metrics"]
        read = {COUNTERS[m["name"]]: float(m["value"]) for m in metrics if m["name"] in COUNTERS}
        processes = (await self._whole.send("SystemInfo.getProcessInfo"))["processInfo"]
        read["browser_cpu_s"] = sum(float(p["cpuTime"]) for p in processes)
        count, blocking, longest = await self.page.evaluate(_READ_LONG_TASKS)
        read |= {"long_tasks": count, "blocking_s": blocking / 1000, "longest_ms": longest}
        return read

    async def draws(self, figures: TabFigures) -> None:
        """Time the drawings of the list into ``figures``."""
        still, items, dialogs, bursts = await self.page.evaluate(_DRAW, [DRAWS, list(MOVED)])
        figures.draw_ms, figures.items, figures.dialogs = float(still), int(items), int(dialogs)
        figures.bursts = {int(k): (float(v[0]), float(v[1])) for k, v in bursts.items()}

    async def close(self) -> None:
        """Close chromium."""
        try:
            await self._browser.close()
        finally:
            await self._playwright.stop()


def figures(start: dict[str, float], end: dict[str, float]) -> TabFigures:
    """The counters' growth from ``start`` to ``end``."""
    grew = {name: end[name] - start[name] for name in start}
    return TabFigures(
        main_thread_s=grew["main_thread_s"],
        script_s=grew["script_s"],
        layout_s=grew["layout_s"],
        style_s=grew["style_s"],
        layouts=grew["layouts"],
        browser_cpu_s=grew["browser_cpu_s"],
        long_tasks=grew["long_tasks"],
        blocking_s=grew["blocking_s"],
        longest_ms=end["longest_ms"],
    )
