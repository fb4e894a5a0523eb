"""An operator's files reach Viber as picture and file messages whose signed public URL works."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.support.admin import ADMIN_PASSWORD
from tests.support.connector_hub import Hub, StartHub, eventually, make_settings
from tests.support.hubclient import OperatorClient
from tests.support.operator_files import PDF, PNG, reply_with_files
from tests.support.viber_peer import TOKEN, ViberPeer

CONFIG = {"token": TOKEN, "sender_name": "Kettle shop support"}


async def test_picture_and_file_messages_carry_fetchable_signed_urls(
    start_hub: StartHub, peer: ViberPeer, redis_url: str, tmp_path: Path
) -> None:
    # The public address is only known once the hub listens: it is the test server's own.
    settings = make_settings(redis_url, tmp_path, viber_api_base=peer.base)
    hub: Hub = await start_hub(settings)
    settings.public_url = hub.base
    await hub.add_channel("viber", "vb", CONFIG)
    admin = OperatorClient(hub.base)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.open_socket()
    await peer.callback(
        f"{hub.base}/hooks/viber/vb",
        {
            "event": "message",
            "timestamp": 1,
            "message_token": 11,
            "sender": {"id": "01234567890A=", "name": "John", "api_version": 1},
            "message": {"type": "text", "text": "send the price list"},
        },
    )
    dialog = (await admin.receive_until("dialog"))["dialog"]

    await reply_with_files(admin, dialog["id"], "", ("lid.png", PNG), ("prices.pdf", PDF))
    sent = await eventually(lambda: peer.sent if len(peer.sent) == 2 else None)
    picture, file = sent
    assert picture["type"] == "picture" and picture["receiver"] == "01234567890A="
    assert file["type"] == "file"
    assert (file["file_name"], file["size"]) == ("prices.pdf", len(PDF))
    async with aiohttp.ClientSession() as viber_servers:
        for body, data in ((picture, PNG), (file, PDF)):
            assert body["media"].startswith(f"{hub.base}/files/")
            async with viber_servers.get(body["media"]) as resp:
                assert resp.status == 200 and await resp.read() == data
    await admin.receive_until("delivery", delivery_status="sent")
    await admin.close()
