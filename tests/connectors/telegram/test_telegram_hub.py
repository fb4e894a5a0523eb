"""Telegram against a local server that follows the Bot API, through a whole hub."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from tests.support.connector_hub import Hub, eventually
from tests.support.hubclient import OperatorClient
from tests.support.slow_post import post_in_pieces
from tests.support.telegram_fixtures import SECRET_HEADER, post_update
from tests.support.telegram_peer import TOKEN, WEBHOOK, TelegramPeer


async def test_webhook_message_reaches_the_operator_and_the_reply_reaches_telegram(
    hub: Hub, peer: TelegramPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("telegram", "shop", WEBHOOK)
    update = peer.user_message(4242, "Where is my order?")
    assert await post_update(hub, update, "wrong") == 401
    assert await post_update(hub, update) == 200
    assert await post_update(hub, update) == 200  # Telegram's redelivery

    dialog = (await admin.receive_until("dialog"))["dialog"]
    assert dialog["channel_kind"] == "telegram" and dialog["client_name"] == "Ivan"
    message = (await admin.receive_until("message", author="client"))["message"]
    assert message["text"] == "Where is my order?"

    long_reply = "It left the warehouse today. " * 100  # under 4096: one part
    status, _ = await admin.call(
        "POST", f"/api/dialogs/{dialog['id']}/messages", {"text": long_reply, "client_msg_id": "r1"}
    )
    assert status == 202
    sent = await eventually(lambda: peer.sent())
    assert [(p["chat_id"], p["text"]) for p in sent] == [("4242", long_reply.strip())]
    reply = await admin.receive_until("message", client_msg_id="r1")
    await admin.receive_until("delivery", id=reply["message"]["id"], delivery_status="sent")

    _s, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
    assert [m["author"] for m in body["messages"]] == ["client", "operator"]
    assert body["messages"][1]["delivery_status"] == "sent"
    await asyncio.sleep(0.3)
    assert len(peer.sent()) == 1  # never sent twice


async def test_an_update_that_arrives_in_pieces_is_read_whole(
    hub: Hub, peer: TelegramPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("telegram", "shop", WEBHOOK)
    text = " ".join(["Где мой заказ?"] * 250)  # 3 749 characters, 20 KB of JSON
    raw = json.dumps(peer.user_message(4242, text)).encode()
    headers = {SECRET_HEADER: WEBHOOK["webhook_secret"], "Content-Type": "application/json"}
    url = f"{hub.base}/hooks/telegram/shop"
    assert await post_in_pieces(url, raw, headers) == (200, "ok")
    message = (await admin.receive_until("message", author="client"))["message"]
    assert message["text"] == text


async def test_polling_confirms_offsets_and_a_photo_is_downloaded(
    hub: Hub, peer: TelegramPeer, admin: OperatorClient
) -> None:
    peer.add_file("PHOTO-1", b"\x89PNG fake image bytes", "photos/file_1.jpg")
    peer.user_message(
        555,
        caption="broken lid",
        photo=[{"file_id": "PHOTO-1", "file_unique_id": "u", "width": 800, "height": 600}],
    )
    await hub.add_channel(
        "telegram", "poll", {"token": TOKEN, "mode": "polling", "poll_timeout": 1}
    )
    message = (await admin.receive_until("message", author="client"))["message"]
    assert message["text"] == "broken lid"
    [attachment] = message["attachments"]
    assert attachment["kind"] == "image" and attachment["url"].startswith("/api/attachments/")
    second = peer.user_message(555, "and the handle too")
    await admin.receive_until("message", text="and the handle too")
    # Each getUpdates after a batch confirms it with offset = last update_id + 1.
    await eventually(lambda: second["update_id"] + 1 in peer.offsets)
    assert peer.offsets[0] is None
    assert peer.updates == []
    # The operator fetches the file from the console; nobody else can.
    async with admin.http.get(f"{hub.base}{attachment['url']}") as resp:
        assert resp.status == 200 and await resp.read() == b"\x89PNG fake image bytes"
    async with aiohttp.ClientSession() as anon, anon.get(f"{hub.base}{attachment['url']}") as r:
        assert r.status == 401


async def test_a_file_the_server_no_longer_has_is_a_note_beside_the_files_that_came(
    hub: Hub, peer: TelegramPeer, admin: OperatorClient
) -> None:
    # getFile names both, but the file server has lost the document: the message arrives at
    # once with the photo and a note, instead of being retried until it is dead-lettered.
    peer.add_file("DOC-1", b"%PDF-1.7 report", "documents/file_2.pdf")
    peer.gone.add("documents/file_2.pdf")
    peer.add_file("PHOTO-2", b"\x89PNG the lid", "photos/file_3.jpg")
    await hub.add_channel("telegram", "shop", WEBHOOK)
    doc = {"file_id": "DOC-1", "file_unique_id": "d", "file_name": "report.pdf"}
    doc["mime_type"] = "application/pdf"
    assert await post_update(hub, peer.user_message(777, caption="see", document=doc)) == 200
    message = (await admin.receive_until("message", author="client"))["message"]
    assert message["text"] == "see\n[report.pdf: could not be downloaded]"
    photo = [{"file_id": "PHOTO-2", "file_unique_id": "p", "width": 800, "height": 600}]
    assert await post_update(hub, peer.user_message(777, photo=photo)) == 200
    message = (await admin.receive_until("message", author="client", text=""))["message"]
    [attachment] = message["attachments"]
    assert (attachment["kind"], attachment["mime"]) == ("image", "image/jpeg")
    async with admin.http.get(f"{hub.base}{attachment['url']}") as resp:
        assert resp.status == 200 and await resp.read() == b"\x89PNG the lid"


async def test_429_retry_after_is_honoured_and_a_block_is_shown_to_the_operator(
    hub: Hub, peer: TelegramPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("telegram", "shop", WEBHOOK)
    assert await post_update(hub, peer.user_message(4242, "hello")) == 200
    dialog = (await admin.receive_until("dialog"))["dialog"]
    peer.throttle["sendMessage"] = [1]
    await admin.call(
        "POST",
        f"/api/dialogs/{dialog['id']}/messages",
        {"text": "after the wait", "client_msg_id": "r1"},
    )
    await admin.receive_until("delivery", delivery_status="sent", timeout=15)
    attempts = [p for name, p in peer.calls if name == "sendMessage"]
    assert [p["text"] for p in attempts] == ["after the wait", "after the wait"]
    assert len(peer.sent()) == 2  # the throttled call and the one that went through
    throttled, accepted = peer.times()
    # Not before the second Telegram asked for, and not parked far beyond it either.
    assert 1.0 <= accepted - throttled < 3.0

    assert await post_update(hub, peer.user_message(403, "then I block you")) == 200
    blocked = (await admin.receive_until("dialog", status="open"))["dialog"]
    await admin.call(
        "POST",
        f"/api/dialogs/{blocked['id']}/messages",
        {"text": "are you there?", "client_msg_id": "r2"},
    )
    failed = await admin.receive_until("delivery", delivery_status="failed")
    assert "blocked" in failed["delivery_error"]


async def test_a_20000_character_reply_reaches_telegram_as_five_parts(
    hub: Hub, peer: TelegramPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("telegram", "shop", WEBHOOK)
    assert await post_update(hub, peer.user_message(4242, "Tell me everything")) == 200
    dialog = (await admin.receive_until("dialog"))["dialog"]
    words = (f"word{i:04d} " for i in range(2223))
    reply = "".join(words)[:20_000]
    assert len(reply) == 20_000
    status, _ = await admin.call(
        "POST", f"/api/dialogs/{dialog['id']}/messages", {"text": reply, "client_msg_id": "long"}
    )
    assert status == 202
    sent = await eventually(lambda: len(peer.sent()) >= 5 and peer.sent())
    assert len(sent) == 5
    assert all(len(p["text"]) <= 4096 for p in sent)
    assert " ".join(p["text"] for p in sent) == reply.strip()
    await asyncio.sleep(0.3)
    assert len(peer.sent()) == 5  # no part sent twice


async def test_a_long_retry_after_parks_the_reply_and_the_dialogs_next_reply_waits_behind_it(
    hub: Hub, peer: TelegramPeer, admin: OperatorClient
) -> None:
    await hub.add_channel("telegram", "shop", WEBHOOK)
    assert await post_update(hub, peer.user_message(4343, "hello")) == 200
    dialog = (await admin.receive_until("dialog"))["dialog"]
    peer.throttle["sendMessage"] = [6]  # longer than the sender waits in place
    for n, text in enumerate(("first", "second")):
        await admin.call(
            "POST",
            f"/api/dialogs/{dialog['id']}/messages",
            {"text": text, "client_msg_id": f"p{n}"},
        )
    await eventually(lambda: len(peer.sent()) >= 3, timeout=20)
    assert [p["text"] for p in peer.sent()] == ["first", "first", "second"]
    throttled, accepted, _second = peer.times()
    assert 6.0 <= accepted - throttled < 9.0
