"""VK through a whole hub, against a local server that the real vk_api library talks to."""

from __future__ import annotations

import json

from connectors.vk.render import random_id
from tests.support.connector_hub import Hub, eventually
from tests.support.hubclient import OperatorClient
from tests.support.slow_post import post_in_pieces
from tests.support.vk_peer import CALLBACK, GROUP, LONGPOLL, USER, VkPeer


async def reply(admin: OperatorClient, dialog_id: int, text: str, cid: str) -> None:
    status, _ = await admin.call(
        "POST", f"/api/dialogs/{dialog_id}/messages", {"text": text, "client_msg_id": cid}
    )
    assert status == 202


async def test_callback_message_reaches_the_operator_and_the_reply_reaches_vk(
    hub: Hub, peer: VkPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("vk", "club", CALLBACK)
    webhook = f"{hub.base}/hooks/vk/club"
    assert await peer.callback(webhook, {"type": "confirmation", "group_id": GROUP}) == (
        200,
        "c0nf1rm42",
    )
    event = peer.message_new(USER, 1, "Привет из VK")
    assert (await peer.callback(webhook, event | {"secret": "wrong"}))[0] == 403
    assert (await peer.callback(webhook, {k: v for k, v in event.items() if k != "secret"}))[
        0
    ] == 403
    assert (await peer.callback(webhook, event | {"group_id": 1}))[0] == 403
    assert await peer.callback(webhook, event) == (200, "ok")
    assert await peer.callback(webhook, event, retry=1) == (200, "ok")  # VK's retry: deduped
    assert (await peer.callback(f"{hub.base}/hooks/vk/nope", event))[0] == 404

    dialog = (await admin.receive_until("dialog"))["dialog"]
    assert dialog["channel_kind"] == "vk"
    message = (await admin.receive_until("message", author="client"))["message"]
    assert message["text"] == "Привет из VK"

    await reply(admin, dialog["id"], "Здравствуйте! Чем помочь?", "r1")
    [sent] = await eventually(lambda: peer.sent)
    assert sent["peer_id"] == str(USER) and sent["message"] == "Здравствуйте! Чем помочь?"
    change = await admin.receive_until("delivery", delivery_status="sent")
    assert sent["random_id"] == str(random_id(await hub.vk_random_key(), change["id"], 0))
    assert sent["v"] == "5.199"

    # VK echoes our send as message_reply; it must not come back as a client message.
    echo = {
        "group_id": GROUP,
        "type": "message_reply",
        "event_id": "echo-1",
        "v": "5.199",
        "secret": "Sh0pSecret",
        "object": {
            "peer_id": USER,
            "from_id": -GROUP,
            "out": 1,
            "conversation_message_id": 2,
            "text": "echo",
        },
    }
    assert await peer.callback(webhook, echo) == (200, "ok")
    assert await peer.callback(webhook, peer.message_new(USER, 3, "спасибо")) == (200, "ok")
    await admin.receive_until("message", text="спасибо")
    _s, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
    assert [(m["author"], m["text"]) for m in body["messages"]] == [
        ("client", "Привет из VK"),
        ("operator", "Здравствуйте! Чем помочь?"),
        ("client", "спасибо"),
    ]


async def test_a_users_edit_reaches_the_operator_by_callback_and_long_poll(
    hub: Hub, peer: VkPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("vk", "club", CALLBACK)
    webhook = f"{hub.base}/hooks/vk/club"
    sent = peer.message_new(USER, 1, "Нужно 3 крышки")
    assert await peer.callback(webhook, sent) == (200, "ok")
    stored = (await admin.receive_until("message", author="client"))["message"]
    assert await peer.callback(webhook, peer.message_edit(sent, "Нужно 5 крышек")) == (200, "ok")
    edited = (await admin.receive_until("message", id=stored["id"]))["message"]
    assert edited["text"] == "Нужно 5 крышек"
    assert [e["text"] for e in edited["edits"]] == ["Нужно 3 крышки"]

    await hub.add_channel("vk", "lp", LONGPOLL)
    peer.push(other := peer.message_new(USER + 1, 1, "Где заказ?"))
    first = (await admin.receive_until("message", text="Где заказ?"))["message"]
    peer.push(peer.message_edit(other, "Где заказ №7?"))
    again = (await admin.receive_until("message", id=first["id"]))["message"]
    assert again["text"] == "Где заказ №7?" and again["edits"][0]["text"] == "Где заказ?"


async def test_an_event_that_arrives_in_pieces_is_read_whole(
    hub: Hub, peer: VkPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("vk", "club", CALLBACK)
    text = " ".join(["Есть ли чайник в наличии?"] * 150)  # 20 KB of JSON
    raw = json.dumps(peer.message_new(USER, 1, text)).encode()
    url = f"{hub.base}/hooks/vk/club"
    assert await post_in_pieces(url, raw, {"Content-Type": "application/json"}) == (200, "ok")
    message = (await admin.receive_until("message", author="client"))["message"]
    assert message["text"] == text


async def test_long_poll_survives_failed_answers_and_downloads_the_largest_photo(
    hub: Hub, peer: VkPeer, admin: OperatorClient
) -> None:
    # A megabyte arrives in many reads of the socket, and is kept whole.
    big = b"\xff\xd8" + bytes(range(256)) * 4096
    peer.files["big.jpg"] = big
    peer.files["small.jpg"] = b"\xff\xd8 small"
    peer.lp_failures = [1, 2, 3]
    photo = {
        "type": "photo",
        "photo": {
            "id": 1,
            "owner_id": USER,
            "sizes": [
                {"type": "s", "width": 75, "height": 56, "url": peer.url("/files/small.jpg")},
                {"type": "z", "width": 1280, "height": 960, "url": peer.url("/files/big.jpg")},
            ],
        },
    }
    peer.push(peer.message_new(USER, 1, "сломанная крышка", [photo]))
    await hub.add_channel("vk", "lp", LONGPOLL)

    message = (await admin.receive_until("message", author="client"))["message"]
    assert message["text"] == "сломанная крышка"
    [attachment] = message["attachments"]
    assert attachment["kind"] == "image"
    async with admin.http.get(f"{hub.base}{attachment['url']}") as resp:
        assert await resp.read() == big
    # failed=2 and failed=3 made vk_api fetch a new key: three getLongPollServer calls in all.
    assert len(peer.method_calls("groups.getLongPollServer")) == 3
    peer.push(peer.message_new(USER, 2, "и ручка тоже"))
    await admin.receive_until("message", text="и ручка тоже")


async def test_error_6_is_retried_with_the_same_random_id_and_901_is_shown_as_failed(
    hub: Hub, peer: VkPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("vk", "club", CALLBACK)
    await peer.callback(f"{hub.base}/hooks/vk/club", peer.message_new(USER, 1, "алло"))
    dialog = (await admin.receive_until("dialog"))["dialog"]

    peer.errors = [6]
    await reply(admin, dialog["id"], "after the wait", "r1")
    await admin.receive_until("delivery", delivery_status="sent")
    attempts = peer.method_calls("messages.send")
    assert len(attempts) == 2 and attempts[0]["random_id"] == attempts[1]["random_id"]
    assert len(peer.sent) == 1

    peer.errors = [901]
    await reply(admin, dialog["id"], "are you there?", "r2")
    failed = await admin.receive_until("delivery", delivery_status="failed")
    assert "Can't send messages for users without permission" in failed["delivery_error"]
    assert "has not allowed messages" in failed["delivery_error"]
    assert len(peer.sent) == 1
