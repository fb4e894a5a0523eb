"""Admins create, rename, disable and enable web chats from the console, without a restart: the
chat page and the visitor socket follow at once, and a disabled chat says so to its visitors."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient

CHAT = {"kind": "webchat", "key": "shop-chat", "name": "Shop chat", "line_id": 1}


async def as_admin(hub: str) -> OperatorClient:
    client = OperatorClient(hub)
    await client.login("admin", ADMIN_PASSWORD)
    return client


async def page(hub: str, key: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(f"{hub}/chat/{key}") as resp:
        return resp.status, await resp.text()


async def refused(visitor: VisitorClient) -> dict[str, Any]:
    """The error frame a refused visitor socket sends, after checking that it then closes."""
    assert visitor.ws is not None
    frame = await visitor.receive_until("error")
    closing = await visitor.ws.receive(timeout=10)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert visitor.ws.close_code == 4403
    return frame


async def test_admin_creates_a_web_chat_with_its_snippet_and_link_and_bad_input_is_named(
    hub: str,
) -> None:
    admin = await as_admin(hub)
    assert (await page(hub, "shop-chat"))[0] == 404
    for body, reason in [
        (CHAT | {"config": {"colour": "red"}}, "config.colour: Extra inputs"),
        (CHAT | {"key": "shop chat"}, "key: "),
        (CHAT | {"line_id": 999}, "line_id: no such line"),
        (CHAT | {"key": "demo"}, "key: another channel"),  # the seeded demo chat
    ]:
        status, answer = await admin.call("POST", "/api/admin/channels", body)
        assert status in (400, 409) and answer["error"].startswith(reason), (reason, answer)

    status, answer = await admin.call("POST", "/api/admin/channels", CHAT)
    assert status == 201, answer
    chat = answer["channel"]
    assert chat["config"]["site_secret"] is None  # unset: the chat refuses site identities
    # The visitors' file limits and forms are shown with their defaults, to be changed.
    assert (chat["config"]["upload_max_mb"], chat["config"]["forms"]) == (10, [])
    assert chat["webhook_path"] is None and chat["enabled"] is True
    assert chat["chat_url"] == f"{hub}/chat/shop-chat"
    assert chat["embed"] == (
        f'<script src="{hub}/widget/widget.js" data-channel="shop-chat" async></script>'
    )
    status, html = await page(hub, "shop-chat")
    assert status == 200 and "Shop chat" in html

    _s, listed = await admin.call("GET", "/api/admin/channels")
    assert {"email", "webchat"} <= set(listed["kinds"])
    assert {c["key"] for c in listed["channels"] if c["kind"] == "webchat"} == {"demo", "shop-chat"}

    status, answer = await admin.call("PATCH", f"/api/admin/channels/{chat['id']}",
                                      {"name": "Shop help", "key": "help"})  # fmt: skip
    assert status == 200 and 'data-channel="help" async>' in answer["channel"]["embed"]
    assert (await page(hub, "shop-chat"))[0] == 404
    status, html = await page(hub, "help")
    assert status == 200 and "Shop help" in html
    await admin.close()


async def test_a_disabled_web_chat_answers_404_and_its_sockets_are_refused_with_a_reason(
    hub: str,
) -> None:
    admin = await as_admin(hub)
    status, answer = await admin.call("POST", "/api/admin/channels", CHAT)
    assert status == 201
    chat_id = answer["channel"]["id"]
    visitor = VisitorClient(hub, "shop-chat")
    latecomer = VisitorClient(hub, "shop-chat")
    try:
        assert (await visitor.connect())["type"] == "welcome"
        await visitor.say("is anyone there?")
        await visitor.receive_until("accepted")

        status, answer = await admin.call("POST", f"/api/admin/channels/{chat_id}/disable")
        assert status == 200 and answer["channel"]["enabled"] is False
        # The open socket is told why and closed once the connectors see the change notice.
        frame = await refused(visitor)
        assert frame["code"] == "chat_disabled" and frame["reason"] == "this chat is disabled"
        assert (await page(hub, "shop-chat"))[0] == 404
        # A new visitor is refused the same way, not with a bare failed handshake.
        assert (await latecomer.connect())["code"] == "chat_disabled"

        await admin.call("POST", f"/api/admin/channels/{chat_id}/enable")
        async with asyncio.timeout(10):
            while (await page(hub, "shop-chat"))[0] != 200:
                await asyncio.sleep(0.05)
        again = VisitorClient(hub, "shop-chat")
        try:
            assert (await again.connect())["type"] == "welcome"
        finally:
            await again.close()
    finally:
        await visitor.close()
        await latecomer.close()
        await admin.close()
