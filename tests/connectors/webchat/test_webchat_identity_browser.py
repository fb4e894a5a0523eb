"""The widget in a real browser passes the site's signed user on: from the script tag's
``data-user-*`` attributes, and from ``Openlines.identify`` for another user, who then starts a
conversation of their own (docs/PROTOCOL.md, "Web chat: signed site identity")."""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Page, WebSocket, expect

from connectors.webchat.identity import sign
from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.hubclient import OperatorClient

NewPage = Callable[..., Awaitable[Page]]
SECRET = "demo-site-secret-0123456789abcdef"
TOKEN_KEY = "openlines.token.demo"

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(60),
]


def user(user_id: str, name: str) -> dict[str, Any]:
    ts = int(time.time())
    return {"id": user_id, "ts": ts, "name": name, "signature": sign(SECRET, user_id, ts, name)}


def shop_page(hub: str, who: dict[str, Any]) -> str:
    """A page of the shop, rendered by its server for a logged-in user."""
    attrs = " ".join(
        f'data-user-{k}="{html.escape(str(v))}"'
        for k, v in {"id": who["id"], "ts": who["ts"], "name": who["name"],
                     "signature": who["signature"]}.items()
    )  # fmt: skip
    return (
        "<!doctype html><html><body><h1>Shop</h1>"
        f'<script src="{hub}/widget/widget.js" data-channel="demo" {attrs} async></script>'
        "</body></html>"
    )


def frames(page: Page, sent: list[dict[str, Any]], got: list[dict[str, Any]]) -> None:
    def on_socket(ws: WebSocket) -> None:
        def keep(into: list[dict[str, Any]]) -> Callable[[str | bytes], None]:
            return lambda payload: into.append(json.loads(payload))

        ws.on("framesent", keep(sent))
        ws.on("framereceived", keep(got))

    page.on("websocket", on_socket)


async def until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():
            await asyncio.sleep(0.05)


async def test_the_widget_sends_the_signed_user_and_a_new_user_starts_afresh(
    hub: str, new_page: NewPage
) -> None:
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    _s, listed = await admin.call("GET", "/api/admin/channels")
    demo = next(c for c in listed["channels"] if c["key"] == "demo")
    status, _a = await admin.call(
        "PATCH", f"/api/admin/channels/{demo['id']}", {"config": {"site_secret": SECRET}}
    )
    assert status == 200
    await admin.close()

    page = await new_page("shop")
    sent: list[dict[str, Any]] = []
    got: list[dict[str, Any]] = []
    frames(page, sent, got)
    ivan = user("user-1", "Ivan")
    # The shop's page on the hub's own origin: Chromium lets only a page the hub served itself
    # reach the loopback hub (a routed, fulfilled page fails its local-network checks).
    await page.goto(f"{hub}/chat/no-such-chat")
    await page.set_content(shop_page(hub, ivan))
    widget = page.locator("[data-openlines-widget]")
    await widget.locator('[data-ol="launcher"]').click()
    await widget.locator('[data-ol="input"]').fill("Hi, it's Ivan")
    await widget.locator('[data-ol="send"]').click()
    await expect(widget.locator('[data-ol="message"][data-author="visitor"]')).to_have_attribute(
        "data-state", "delivered"
    )
    hello = next(f for f in sent if f["type"] == "hello")
    assert hello["identity"] == ivan
    await until(lambda: {"type": "identified", "id": "user-1"} in got)
    first_token = await page.evaluate(f"localStorage.getItem({json.dumps(TOKEN_KEY)})")
    assert first_token

    # Someone else logs in on this browser (a single-page app): a new visitor, not Ivan's chat.
    sent.clear()
    got.clear()
    olga = user("user-2", "Olga")
    assert await page.evaluate("(u) => window.Openlines.identify(u)", olga) is True
    await until(lambda: any(f["type"] == "welcome" for f in got))
    hello = next(f for f in sent if f["type"] == "hello")
    assert "token" not in hello and hello["identity"] == olga
    await until(lambda: {"type": "identified", "id": "user-2"} in got)
    second_token = await page.evaluate(f"localStorage.getItem({json.dumps(TOKEN_KEY)})")
    assert second_token and second_token != first_token
