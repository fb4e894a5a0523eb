"""An operator's uploaded files reach the Telegram client as sendPhoto and sendDocument."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from connectors.telegram import adapter as telegram_adapter
from tests.support.connector_hub import Hub, StartHub, eventually, make_settings
from tests.support.hubclient import admin_on_socket
from tests.support.operator_files import PDF, PNG, reply_with_files
from tests.support.slow_link import slow_link
from tests.support.telegram_fixtures import client_opens_dialog
from tests.support.telegram_peer import TelegramPeer


def uploaded(params: dict[str, Any], field: str) -> bytes:
    """The bytes of a file a call uploaded (aiogram names its part ``attach://<part>``)."""
    value = params[field]
    part = value.removeprefix("attach://") if isinstance(value, str) else None
    data: bytes = params[part] if part else value
    return data


async def test_operator_upload_goes_out_as_photo_and_document(hub: Hub, peer: TelegramPeer) -> None:
    async with admin_on_socket(hub.base) as admin:
        dialog, _update = await client_opens_dialog(hub, peer, admin, 77, "prices?")
        await reply_with_files(
            admin, dialog["id"], "Here you go", ("lid.png", PNG), ("prices.pdf", PDF)
        )
        await eventually(lambda: peer.sent("sendDocument"))
        assert [p["text"] for p in peer.sent()] == ["Here you go"]
        assert [uploaded(p, "photo") for p in peer.sent("sendPhoto")] == [PNG]
        assert [uploaded(p, "document") for p in peer.sent("sendDocument")] == [PDF]
        sent = await admin.receive_until("delivery", delivery_status="sent")
        _s, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
        [stored] = [m for m in body["messages"] if m["id"] == sent["id"]]
        assert [a["name"] for a in stored["attachments"]] == ["lid.png", "prices.pdf"]


async def test_a_large_file_on_a_slow_uplink_is_given_its_transfer_time(
    start_hub: StartHub,
    peer: TelegramPeer,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call is bounded (aiogram's 60 s, here half a second, as the test's pace needs), but
    an upload gets its size's transfer time on top, or it would fail at every retry."""
    monkeypatch.setattr(telegram_adapter, "API_WAIT_S", 0.5)
    big = PDF + bytes(1 << 20)  # two seconds at the link's 512 KB/s
    port = urlsplit(peer.base).port
    assert port is not None
    async with slow_link("127.0.0.1", port, up=512 * 1024) as slow_port:
        settings = make_settings(
            redis_url, tmp_path, telegram_api_base=f"http://127.0.0.1:{slow_port}"
        )
        hub: Hub = await start_hub(settings)
        async with admin_on_socket(hub.base) as admin:
            dialog, _update = await client_opens_dialog(
                hub, peer, admin, 78, "the catalogue, please"
            )
            await reply_with_files(admin, dialog["id"], "", ("catalogue.pdf", big))
            sent = await admin.receive_until("delivery", timeout=20)
            assert sent["delivery_status"] == "sent", sent
            assert [uploaded(p, "document") for p in peer.sent("sendDocument")] == [big]
