"""A Telegram client edits a message they sent: the operator sees the new text, marked as
changed, with the earlier one kept; an edit of a message the hub never stored changes nothing."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from router import edits as router_edits
from tests.support.connector_hub import Hub
from tests.support.hubclient import OperatorClient, admin_on_socket
from tests.support.telegram_fixtures import client_opens_dialog, post_update
from tests.support.telegram_peer import TelegramPeer


async def messages_of(admin: OperatorClient, dialog_id: int) -> list[dict[str, Any]]:
    status, body = await admin.call("GET", f"/api/dialogs/{dialog_id}")
    assert status == 200, body
    return [m for m in body["messages"] if m["author"] == "client"]


async def test_an_edit_changes_the_text_and_keeps_the_earlier_one(
    hub: Hub, peer: TelegramPeer
) -> None:
    async with admin_on_socket(hub.base) as admin:
        dialog, first = await client_opens_dialog(hub, peer, admin, 77, "Price for 3 kettles?")
        stored = (await admin.receive_until("message", text="Price for 3 kettles?"))["message"]
        assert stored["edits"] == []

        assert await post_update(hub, peer.user_edit(first, "Price for 5 kettles?")) == 200
        edited = (await admin.receive_until("message", id=stored["id"]))["message"]
        assert edited["text"] == "Price for 5 kettles?"
        assert [e["text"] for e in edited["edits"]] == ["Price for 3 kettles?"]
        # Edited twice: both earlier texts, oldest first; the dialog still has one message.
        assert await post_update(hub, peer.user_edit(first, "Price for 6 kettles?")) == 200
        again = (await admin.receive_until("message", id=stored["id"]))["message"]
        assert [e["text"] for e in again["edits"]] == [
            "Price for 3 kettles?",
            "Price for 5 kettles?",
        ]
        [shown] = await messages_of(admin, dialog["id"])
        assert shown["id"] == stored["id"] and shown["text"] == "Price for 6 kettles?"
        assert [e["text"] for e in shown["edits"]] == [
            "Price for 3 kettles?",
            "Price for 5 kettles?",
        ]
        assert shown["edits"][0]["replaced_at"] <= shown["edits"][1]["replaced_at"]

        # A message the hub never stored, and the same text again: nothing changes.
        unknown = peer.user_message(77, "never seen")
        peer.updates.remove(unknown)
        assert await post_update(hub, peer.user_edit(unknown, "edited")) == 200
        assert await post_update(hub, peer.user_edit(first, "Price for 6 kettles?")) == 200
        assert await post_update(hub, peer.user_message(77, "And a lid?")) == 200
        await admin.receive_until("message", text="And a lid?")
        texts = [m["text"] for m in await messages_of(admin, dialog["id"])]
        assert texts == ["Price for 6 kettles?", "And a lid?"]
        [kept, _lid] = await messages_of(admin, dialog["id"])
        assert len(kept["edits"]) == 2


async def test_integrations_hear_each_edit_once(hub: Hub, peer: TelegramPeer) -> None:
    async with admin_on_socket(hub.base) as admin:
        status, token = await admin.call(
            "POST", "/api/admin/tokens", {"name": "crm", "scopes": ["dialogs:read"]}
        )
        assert status == 201, token
        dialog, first = await client_opens_dialog(hub, peer, admin, 77, "Price for 3 kettles?")
    url = hub.base.replace("http", "ws", 1) + "/api/integrations/events?events=message.updated"
    auth = {"Authorization": f"Bearer {token['value']}"}
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=auth) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "ready"
        assert await post_update(hub, peer.user_edit(first, "Price for 5 kettles?")) == 200
        assert await post_update(hub, peer.user_edit(first, "Price for 5 kettles?")) == 200
        assert await post_update(hub, peer.user_edit(first, "Price for 6 kettles?")) == 200
        heard = [await ws.receive_json(timeout=10) for _ in range(2)]
    assert [e["type"] for e in heard] == ["message.updated", "message.updated"]
    assert [(e["data"]["previous_text"], e["data"]["text"]) for e in heard] == [
        ("Price for 3 kettles?", "Price for 5 kettles?"),
        ("Price for 5 kettles?", "Price for 6 kettles?"),
    ]
    assert {e["data"]["dialog_id"] for e in heard} == {dialog["id"]}
    assert heard[0]["id"] != heard[1]["id"]


async def test_only_the_latest_earlier_texts_are_kept(
    hub: Hub, peer: TelegramPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client who edits a message over and over does not make every read carry it all."""
    monkeypatch.setattr(router_edits, "EDITS_KEPT", 2)
    async with admin_on_socket(hub.base) as admin:
        dialog, first = await client_opens_dialog(hub, peer, admin, 77, "v0")
        for version in range(1, 5):
            assert await post_update(hub, peer.user_edit(first, f"v{version}")) == 200
            # Each edit reaches the console, the ones past the cap too.
            await admin.receive_until("message", text=f"v{version}")
        [shown] = await messages_of(admin, dialog["id"])
        assert shown["text"] == "v4"
        assert [e["text"] for e in shown["edits"]] == ["v2", "v3"]
