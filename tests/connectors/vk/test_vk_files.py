"""An operator's files reach VK through the upload flow, and VK's read events mark replies
seen: a whole hub against the fake VK server that the real vk_api library talks to."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from connectors.vk import adapter as vk_adapter
from connectors.vk.render import random_id
from tests.support.connector_hub import Hub, StartHub, eventually, make_settings
from tests.support.hubclient import OperatorClient, admin_on_socket
from tests.support.operator_files import PDF, PNG, reply_with_files
from tests.support.slow_link import slow_link
from tests.support.vk_peer import CALLBACK, GROUP, LONGPOLL, USER, VkPeer


async def open_dialog(hub: Hub, peer: VkPeer, admin: OperatorClient) -> int:
    await hub.add_channel("vk", "club", CALLBACK)
    assert await peer.callback(
        f"{hub.base}/hooks/vk/club", peer.message_new(USER, 1, "прайс?")
    ) == (200, "ok")
    dialog_id: int = (await admin.receive_until("dialog"))["dialog"]["id"]
    return dialog_id


async def reply(admin: OperatorClient, dialog_id: int, text: str, cid: str) -> int:
    status, body = await admin.call(
        "POST", f"/api/dialogs/{dialog_id}/messages", {"text": text, "client_msg_id": cid}
    )
    assert status == 202, body
    frame = await admin.receive_until("message", text=text)
    message_id: int = frame["message"]["id"]
    await admin.receive_until("delivery", id=message_id, delivery_status="sent")
    return message_id


async def statuses(admin: OperatorClient, dialog_id: int, *ids: int) -> list[str | None]:
    _s, body = await admin.call("GET", f"/api/dialogs/{dialog_id}")
    by_id = {m["id"]: m["delivery_status"] for m in body["messages"]}
    return [by_id[i] for i in ids]


async def test_an_image_and_a_pdf_go_out_in_one_send_with_the_text(
    hub: Hub, peer: VkPeer, admin: OperatorClient
) -> None:
    dialog_id = await open_dialog(hub, peer, admin)
    await reply_with_files(admin, dialog_id, "Вот прайс", ("lid.png", PNG), ("prices.pdf", PDF))
    frame = await admin.receive_until("delivery", delivery_status="sent")

    [sent] = peer.sent
    assert sent["peer_id"] == str(USER) and sent["message"] == "Вот прайс"
    assert sent["random_id"] == str(random_id(await hub.vk_random_key(), frame["id"], 0))
    photo, doc = sent["attachment"].split(",")
    assert photo.startswith(f"photo-{GROUP}_") and doc.startswith(f"doc-{GROUP}_")
    # The bytes themselves reached the upload urls, each through its own route.
    assert peer.uploads == [("photo", "photo", "lid.png", PNG), ("doc", "file", "prices.pdf", PDF)]
    assert peer.attachments_sent() == [[("lid.png", PNG), ("prices.pdf", PDF)]]
    assert [v["peer_id"] for v in peer.method_calls("photos.getMessagesUploadServer")] == [
        str(USER)
    ]
    assert [
        (v["peer_id"], v["type"]) for v in peer.method_calls("docs.getMessagesUploadServer")
    ] == [(str(USER), "doc")]
    _s, body = await admin.call("GET", f"/api/dialogs/{dialog_id}")
    [stored] = [m for m in body["messages"] if m["id"] == frame["id"]]
    assert [a["name"] for a in stored["attachments"]] == ["lid.png", "prices.pdf"]


async def test_a_large_file_on_a_slow_uplink_is_given_its_transfer_time(
    start_hub: StartHub,
    peer: VkPeer,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The file session bounds a request (60 s, here half a second, as the test's pace needs),
    but an upload gets its size's transfer time on top, or it would fail at every retry."""
    monkeypatch.setattr(vk_adapter, "HTTP_WAIT_S", 0.5)
    big = PDF + bytes(1 << 20)  # two seconds at the link's 512 KB/s
    port = urlsplit(peer.base).port
    assert port is not None
    async with slow_link("127.0.0.1", port, up=512 * 1024) as slow_port:
        peer.upload_base = f"http://127.0.0.1:{slow_port}"
        hub: Hub = await start_hub(make_settings(redis_url, tmp_path, vk_api_base=peer.base))
        async with admin_on_socket(hub.base) as admin:
            dialog_id = await open_dialog(hub, peer, admin)
            await reply_with_files(admin, dialog_id, "Каталог", ("catalogue.pdf", big))
            sent = await admin.receive_until("delivery", timeout=20)
            assert sent["delivery_status"] == "sent", sent
            assert [u[3] for u in peer.uploads] == [big]


async def test_a_retry_after_a_failed_upload_and_a_lost_answer_sends_once(
    hub: Hub, peer: VkPeer, admin: OperatorClient
) -> None:
    dialog_id = await open_dialog(hub, peer, admin)
    peer.upload_errors = [503]  # the first try fails at the upload
    peer.lost_replies = 1  # the second makes the message but its answer is lost
    await reply_with_files(admin, dialog_id, "", ("prices.pdf", PDF))
    frame = await admin.receive_until("delivery", delivery_status="sent")

    attempts = peer.method_calls("messages.send")
    assert len(attempts) == 2
    assert (
        attempts[0]["random_id"]
        == attempts[1]["random_id"]
        == str(random_id(await hub.vk_random_key(), frame["id"], 0))
    )
    assert len(peer.sent) == 1 and peer.sent[0]["message"] == ""
    assert peer.attachments_sent() == [[("prices.pdf", PDF)]]
    assert [u[3] for u in peer.uploads] == [PDF, PDF]  # re-uploaded on the retry, sent once


async def test_a_refused_upload_marks_the_message_failed_with_vks_reason(
    hub: Hub, peer: VkPeer, admin: OperatorClient
) -> None:
    dialog_id = await open_dialog(hub, peer, admin)
    peer.method_errors["photos.saveMessagesPhoto"] = [100]
    await reply_with_files(admin, dialog_id, "фото", ("lid.png", PNG))
    failed = await admin.receive_until("delivery", delivery_status="failed")
    assert "One of the parameters specified was missing or invalid" in failed["delivery_error"]
    assert peer.sent == []


async def test_message_read_marks_replies_up_to_the_read_one_seen(
    hub: Hub, peer: VkPeer, admin: OperatorClient
) -> None:
    dialog_id = await open_dialog(hub, peer, admin)
    first = await reply(admin, dialog_id, "первый", "r1")
    second = await reply(admin, dialog_id, "второй", "r2")
    first_vk, second_vk = (peer.id_of(values) for values in peer.sent)
    webhook = f"{hub.base}/hooks/vk/club"

    assert await peer.callback(webhook, peer.message_read(USER, first_vk)) == (200, "ok")
    seen = await admin.receive_until("delivery", delivery_status="seen")
    assert seen["id"] == first
    assert await statuses(admin, dialog_id, first, second) == ["seen", "sent"]
    assert await peer.callback(webhook, peer.message_read(USER, second_vk)) == (200, "ok")
    seen = await admin.receive_until("delivery", delivery_status="seen")
    assert seen["id"] == second
    # Another user's read touches nothing; an older read never moves a status back.
    await peer.callback(webhook, peer.message_read(USER + 1, second_vk + 10))
    await peer.callback(webhook, peer.message_read(USER, first_vk))
    # Raw events are consumed in order: once this message is in, both reads were handled.
    await peer.callback(webhook, peer.message_new(USER, 2, "спасибо"))
    await admin.receive_until("message", text="спасибо")
    assert await statuses(admin, dialog_id, first, second) == ["seen", "seen"]


async def test_message_read_arrives_by_long_poll_too(
    hub: Hub, peer: VkPeer, admin: OperatorClient
) -> None:
    peer.push(peer.message_new(USER, 1, "алло"))
    await hub.add_channel("vk", "lp", LONGPOLL)
    dialog_id = (await admin.receive_until("dialog"))["dialog"]["id"]
    message_id = await reply(admin, dialog_id, "слушаю", "r1")
    [sent] = await eventually(lambda: peer.sent)
    peer.push(peer.message_read(USER, peer.id_of(sent)))
    seen = await admin.receive_until("delivery", delivery_status="seen")
    assert seen["id"] == message_id
