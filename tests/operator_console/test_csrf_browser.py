"""A page on another port of the same host (the same site, so the session cookie goes along)
cannot make a logged-in operator's browser post a reply, send one over the operator socket or
change their presence."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect
from sqlalchemy import func, select

from core.db import SessionMaker
from core.db.schema import Message, Operator
from tests.support.console_page import DESKTOP
from tests.support.console_world import World

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(120),
]


def forged_reply_page(action: str) -> str:
    """A form whose text/plain body (``name=value``) is the JSON of a reply, submitted on load."""
    name = '{"client_msg_id": "forged1", "text": "forged'
    return (
        f'<form method="post" enctype="text/plain" action="{html.escape(action)}">'
        f'<input name="{html.escape(name)}" value=" reply&quot;}}"></form>'
        "<script>document.forms[0].submit()</script>"
    )


def forged_presence_page(action: str) -> str:
    """A form-encoded ``status=offline`` post, submitted on load."""
    return (
        f'<form method="post" action="{html.escape(action)}">'
        '<input name="status" value="offline"></form>'
        "<script>document.forms[0].submit()</script>"
    )


def forged_socket_page(url: str) -> str:
    """A page that opens the operator socket and, if it opens, sends a reply on it; the title
    says how far it got."""
    reply = {"type": "reply", "dialog_id": 1, "client_msg_id": "forged2", "text": "forged"}
    frame = json.dumps(json.dumps(reply))
    return (
        "<script>"
        f"const ws = new WebSocket({json.dumps(url)});"
        f"ws.onopen = () => {{ document.title = 'open'; ws.send({frame}); }};"
        "ws.onclose = () => { if (document.title !== 'open') document.title = 'refused'; };"
        "</script>"
    )


@pytest.fixture
async def other_site(hub: str, world: World) -> AsyncIterator[str]:
    """Pages on another port of the hub's host that forge console requests."""
    dialog = world.dialogs["olga"]
    pages = {
        "/reply": forged_reply_page(f"{hub}/api/dialogs/{dialog}/messages"),
        "/presence": forged_presence_page(f"{hub}/api/presence"),
        "/socket": forged_socket_page(f"{hub.replace('http', 'ws', 1)}/api/ws"),
    }

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=pages[request.path], content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def sign_in_as_olga(page: Page, hub: str) -> None:
    await page.goto(f"{hub}/")
    await page.locator('[data-ol="login"]').fill("olga")
    await page.locator('[data-ol="password"]').fill("pw-olga")
    await page.locator('[data-ol="login-submit"]').click()
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")


async def test_a_form_on_another_port_is_refused_and_nothing_is_stored(
    hub: str, world: World, db: SessionMaker, other_site: str, new_page: NewPage
) -> None:
    console = await new_page("console", viewport=DESKTOP)
    await sign_in_as_olga(console, hub)
    attacker = await console.context.new_page()

    async with attacker.expect_response(lambda r: "/messages" in r.url) as forged:
        await attacker.goto(f"{other_site}/reply")
    answer = await forged.value
    assert answer.status == 403
    assert "cross-site request refused" in json.loads(await answer.text())["error"]

    async with attacker.expect_response(lambda r: r.url.endswith("/api/presence")) as forged:
        await attacker.goto(f"{other_site}/presence")
    assert (await forged.value).status == 403

    # Nor can it open the operator socket, which carries replies too.
    await attacker.goto(f"{other_site}/socket")
    await expect(attacker).to_have_title("refused")

    async with db() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Message).where(Message.text.contains("forged"))
        )
        status = await session.scalar(select(Operator.status).where(Operator.login == "olga"))
    assert stored == 0
    assert status == "online"

    # The console itself still talks to the API: its own reply goes through and is stored.
    dialog = world.dialogs["olga"]
    await console.locator(f'[data-ol="dialog"][data-dialog-id="{dialog}"] button').first.click()
    await console.locator('[data-ol="reply"]').fill("a genuine answer")
    await console.locator('[data-ol="send"]').click()
    # A stored message carries its database id.
    stored_reply = console.locator(
        '[data-ol="messages"] [data-ol="message"][data-author="operator"]',
        has_text="a genuine answer",
    )
    await expect(stored_reply).to_have_attribute("data-id", re.compile(r"^\d+$"))
