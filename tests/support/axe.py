"""axe-core in a test's browser page: injected from node_modules, never shipped to sites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
"""Installed by ``npm ci`` from package.json's devDependencies."""

WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def axe_violations(page: Page, selector: str) -> list[str]:
    """The WCAG 2.1 A/AA violations inside ``selector`` (shadow roots included), one line each:
    rule, impact, and the first offending nodes with axe's summary of what is wrong."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate(
        """async ([selector, tags]) => axe.run(document.querySelector(selector),
             { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })""",
        [selector, WCAG_AA],
    )
    lines = []
    for rule in result["violations"]:
        nodes = "; ".join(
            f"{node['target']}: {node.get('failureSummary', '')}" for node in rule["nodes"][:3]
        )
        lines.append(f"{rule['id']} ({rule['impact']}): {nodes}")
    return lines
