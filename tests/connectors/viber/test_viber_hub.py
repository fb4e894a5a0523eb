"""Viber against a local server that follows its REST bot API, through a whole hub."""

from __future__ import annotations

import json
from typing import Any

from tests.support.connector_hub import Hub, eventually
from tests.support.hubclient import OperatorClient
from tests.support.slow_post import post_in_pieces
from tests.support.viber_peer import TOKEN, ViberPeer

CONFIG = {"token": TOKEN, "sender_name": "Kettle shop support", "greeting": "Hi! Ask away."}


def message(token: int, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": 1457764197627,
        "message_token": token,
        "sender": {"id": "01234567890A=", "name": "John McClane", "api_version": 1},
        "message": {"type": "text", "text": text, **extra},
    }


async def test_signed_message_reaches_operator_reply_reaches_viber_with_receipts(
    hub: Hub, peer: ViberPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("viber", "vb", CONFIG)
    webhook = f"{hub.base}/hooks/viber/vb"
    first = message(4912661846655238145, "Is the kettle 220V?")
    assert (await peer.callback(webhook, first, signature="0" * 64))[0] == 403
    assert (await peer.callback(webhook, first))[0] == 200
    assert (await peer.callback(webhook, first))[0] == 200  # Viber's retry
    status, body = await peer.callback(
        webhook,
        {
            "event": "conversation_started",
            "timestamp": 1,
            "message_token": 77,
            "type": "open",
            "user": {"id": "01234567890A=", "name": "John"},
            "subscribed": False,
        },
    )
    assert status == 200 and json.loads(body)["text"] == "Hi! Ask away."

    dialog = (await admin.receive_until("dialog"))["dialog"]
    assert dialog["channel_kind"] == "viber"
    await admin.receive_until("message", text="Is the kettle 220V?")
    await admin.call(
        "POST",
        f"/api/dialogs/{dialog['id']}/messages",
        {"text": "Yes, 220-240V.", "client_msg_id": "r1"},
    )
    sent = await eventually(lambda: peer.sent)
    assert sent[0]["receiver"] == "01234567890A=" and sent[0]["text"] == "Yes, 220-240V."
    assert sent[0]["sender"]["name"] == "Kettle shop support"
    await admin.receive_until("delivery", delivery_status="sent")

    _s, stored = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
    reply = stored["messages"][-1]
    token = 5_000_000_000  # the peer's first message token
    for event in ("delivered", "seen"):
        assert (
            await peer.callback(
                webhook,
                {
                    "event": event,
                    "timestamp": 2,
                    "message_token": token,
                    "user_id": "01234567890A=",
                },
            )
        )[0] == 200
    seen = await admin.receive_until("delivery", delivery_status="seen")
    assert seen["id"] == reply["id"]
    _s, stored = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
    assert [m["text"] for m in stored["messages"]] == ["Is the kettle 220V?", "Yes, 220-240V."]


async def test_a_callback_that_arrives_in_pieces_is_read_whole(
    hub: Hub, peer: ViberPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("viber", "vb", CONFIG)
    text = " ".join(["Is the kettle 220V?"] * 150)
    raw = json.dumps(message(4912661846655238145, text)).encode()
    headers = {"X-Viber-Content-Signature": peer.sign(raw), "Content-Type": "application/json"}
    status, _ = await post_in_pieces(f"{hub.base}/hooks/viber/vb", raw, headers, pieces=6)
    assert status == 200
    got = (await admin.receive_until("message", author="client"))["message"]
    assert got["text"] == text


async def test_unsubscribed_receiver_is_shown_to_the_operator_and_too_many_is_retried(
    hub: Hub, peer: ViberPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("viber", "vb", CONFIG)
    peer.media["lid.jpg"] = b"jpeg bytes"
    await peer.callback(
        f"{hub.base}/hooks/viber/vb",
        message(1, "photo", media=peer.url("/media/lid.jpg"))
        | {
            "message": {
                "type": "picture",
                "text": "photo",
                "media": peer.url("/media/lid.jpg"),
                "size": 10,
            }
        },
    )
    got = (await admin.receive_until("message", text="photo"))["message"]
    assert got["attachments"][0]["kind"] == "image"
    dialog_id = got["dialog_id"]
    peer.statuses = [6]
    await admin.call(
        "POST", f"/api/dialogs/{dialog_id}/messages", {"text": "hello?", "client_msg_id": "r1"}
    )
    failed = await admin.receive_until("delivery", delivery_status="failed")
    assert failed["delivery_error"] == "Viber refused: the user is not subscribed to the bot"
