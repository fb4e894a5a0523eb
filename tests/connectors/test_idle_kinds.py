"""A kind of channel without an account costs an idle hub nothing: its raw-update consumer and
outbound sender start with its first account (added through the admin API), and what reached
its streams while they were stopped is handled once they run."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from connectors.platform import PlatformConnector
from core.app_keys import BUS
from core.bus import Consumer
from operator_console.keys import CHANNELS
from tests.support.admin import ADMIN_PASSWORD
from tests.support.connector_hub import Hub, eventually
from tests.support.hubclient import OperatorClient
from tests.support.telegram_fixtures import (  # noqa: F401  (fixtures, found here by pytest)
    telegram_hub,
    telegram_peer,
)
from tests.support.telegram_peer import WEBHOOK, TelegramPeer

PLATFORM_STREAMS = {f"{d}.{k}" for d in ("raw", "out") for k in ("telegram", "vk", "viber")}
KIND_STREAMS = PLATFORM_STREAMS | {"out.email"}

pytestmark = pytest.mark.parametrize("redis_server", ["7"], indirect=True)


def consumed_streams() -> set[str]:
    """The streams that a running task of this loop is consuming in a consumer group."""
    found: set[str] = set()
    for task in asyncio.all_tasks():
        coro: Any = task.get_coro()
        while coro is not None and hasattr(coro, "cr_frame"):
            me = coro.cr_frame.f_locals.get("self") if coro.cr_frame is not None else None
            if isinstance(me, Consumer):
                found.add(me.stream)
            coro = coro.cr_await
    return found


async def accounts_loaded(hub: Hub) -> None:
    """Wait until every platform connector of ``hub`` has loaded its accounts (none yet)."""
    for connector in hub.server.app[CHANNELS]:
        if isinstance(connector, PlatformConnector):
            await asyncio.wait_for(connector.accounts.loaded.wait(), 10)


async def test_a_kinds_consumers_start_with_its_first_account_and_catch_up_on_its_streams(
    hub: Hub, peer: TelegramPeer, caplog: pytest.LogCaptureFixture
) -> None:
    await accounts_loaded(hub)
    # The router's consumers are found: the probe sees consumers where there are some.
    await eventually(lambda: "cmd" in consumed_streams())
    assert consumed_streams() & KIND_STREAMS == set()

    admin = OperatorClient(hub.base)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.open_socket()
    try:
        status, _body = await admin.call(
            "POST",
            "/api/admin/channels",
            {"kind": "telegram", "key": "shop", "name": "Shop", "line_id": 1, "config": WEBHOOK},
        )
        assert status == 201
        # After aiogram's import, which takes seconds (minutes on a busy machine).
        await eventually(lambda: {"raw.telegram", "out.telegram"} <= consumed_streams(), 180)
        assert consumed_streams() & (KIND_STREAMS - {"raw.telegram", "out.telegram"}) == set()

        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{hub.base}/hooks/telegram/shop",
                json=peer.user_message(4242, "Where is my order?"),
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-1"},
            ) as resp,
        ):
            assert resp.status == 200
        dialog = (await admin.receive_until("dialog"))["dialog"]
        await admin.receive_until("message", author="client")
        await reply(admin, dialog["id"], "r1", "It left today.")
        await eventually(lambda: [p["text"] for p in peer.sent()] == ["It left today."])

        # Stopped (as when the kind has no account left), a reply waits on the stream…
        telegram = next(c for c in hub.server.app[CHANNELS] if c.kind == "telegram")
        assert isinstance(telegram, PlatformConnector)
        await telegram.workers.want(hub.server.app[BUS], False)
        assert consumed_streams() & KIND_STREAMS == set()
        await reply(admin, dialog["id"], "r2", "It arrives tomorrow.")
        await asyncio.sleep(0.3)
        assert len(peer.sent()) == 1
        # …and is delivered once the consumers run again.
        await telegram.workers.want(hub.server.app[BUS], True)
        await eventually(lambda: len(peer.sent()) == 2)
        assert peer.sent()[1]["text"] == "It arrives tomorrow."
    finally:
        await admin.close()
    # aiogram's seconds of import (with the first account) ran beside the loop, not in it: no
    # read timed out meanwhile as if Redis had gone.
    assert not [r for r in caplog.records if "lost Redis" in r.getMessage()]


async def reply(admin: OperatorClient, dialog_id: int, client_msg_id: str, text: str) -> None:
    status, _ = await admin.call(
        "POST", f"/api/dialogs/{dialog_id}/messages", {"text": text, "client_msg_id": client_msg_id}
    )
    assert status == 202
