"""What the layout tests read off a console page: pane boxes, text nodes, contrast."""

from __future__ import annotations

from playwright.async_api import FloatRect, Locator, Page, expect

from tests.support.admin import ADMIN_PASSWORD

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}
BAD_TEXT = ("null", "undefined", "[object Object]")


async def sign_in(
    page: Page, hub: str, login: str = "admin", password: str = ADMIN_PASSWORD
) -> None:
    """Sign an operator in (the admin by default) and wait until live updates arrive."""
    await page.goto(f"{hub}/")
    await page.locator('[data-ol="login"]').fill(login)
    await page.locator('[data-ol="password"]').fill(password)
    await page.locator('[data-ol="login-submit"]').click()
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")


async def box(locator: Locator) -> FloatRect:
    """The element's bounding box; it must be rendered."""
    found = await locator.bounding_box()
    assert found is not None, f"{locator} is not rendered"
    return found


# Every visible text node whose whole text is one of the words that leak from bad templating.
_BAD_TEXT_NODES = """(bad) => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    if (bad.some((word) => text.includes(word))) {
      out.push(`${node.parentElement.tagName}.${node.parentElement.className}: ${text.trim()}`);
    }
  }
  return out;
}"""


async def bad_text_nodes(page: Page) -> list[str]:
    """Text nodes anywhere in the page that read "null", "undefined" or "[object Object]"."""
    found: list[str] = await page.evaluate(_BAD_TEXT_NODES, list(BAD_TEXT))
    return found


# WCAG 2 contrast of each visible, enabled text against the first opaque background behind it;
# the element's opacity (and its ancestors') fades its text into that background.
_LOW_CONTRAST = """() => {
  const rgba = (s) => (s.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number).concat([1]).slice(0, 4);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const bg = rgba(getComputedStyle(n).backgroundColor);
      if (bg[3] >= 0.99) return bg;
    }
    return [255, 255, 255, 1];
  };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const owner = node.parentElement;
    if (!node.textContent.trim() || !owner.checkVisibility({ visibilityProperty: true })) continue;
    if (owner.closest(":disabled, [aria-hidden='true'], .sr-only, .composer-hint")) continue;
    let alpha = rgba(getComputedStyle(owner).color)[3];
    for (let n = owner; n; n = n.parentElement) alpha *= Number(getComputedStyle(n).opacity);
    const bg = background(owner);
    const fg = rgba(getComputedStyle(owner).color).slice(0, 3)
      .map((v, i) => v * alpha + bg[i] * (1 - alpha));
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const what = `${owner.tagName}.${owner.className} "${node.textContent.trim().slice(0, 30)}"`;
    if (ratio < 4.5) out.push(`${what}: ${ratio.toFixed(2)}`);
  }
  return out;
}"""


async def low_contrast_text(page: Page) -> list[str]:
    """Visible text whose contrast with its background is below 4.5:1."""
    found: list[str] = await page.evaluate(_LOW_CONTRAST)
    return found


def inside(inner: FloatRect, viewport: dict[str, int]) -> bool:
    """Whether a box lies wholly inside the viewport."""
    return (
        inner["x"] >= 0
        and inner["y"] >= 0
        and inner["x"] + inner["width"] <= viewport["width"] + 0.5
        and inner["y"] + inner["height"] <= viewport["height"] + 0.5
    )
