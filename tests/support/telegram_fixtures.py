"""Fixtures of the tests that drive a hub's Telegram connector against ``TelegramPeer``.

A conftest or test module takes them by importing them (pytest finds fixtures in its
namespace); they are registered under the names ``peer`` and ``hub``, so importing them does not
shadow a test's ``peer`` and ``hub`` parameters.

- ``peer`` (function): a running ``TelegramPeer`` for the test bot (``telegram_peer.TOKEN``).
- ``hub`` (function): a whole hub whose Telegram connector talks to that peer; needs the
  ``start_hub`` fixture of tests/connectors/conftest.py.

``post_update`` hands such a hub an update as Telegram's webhook call would;
``client_opens_dialog`` adds the ``shop`` bot and has a client write to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.connector_hub import Hub, StartHub, make_settings
from tests.support.hubclient import OperatorClient
from tests.support.telegram_peer import TOKEN, WEBHOOK, TelegramPeer

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def post_update(
    hub: Hub, update: dict[str, Any], secret: str = WEBHOOK["webhook_secret"]
) -> int:
    """POST ``update`` to the hub's webhook of the ``shop`` bot with ``secret`` in Telegram's
    header; the status the hub answered."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{hub.base}/hooks/telegram/shop", json=update, headers={SECRET_HEADER: secret}
        ) as resp,
    ):
        return resp.status


async def client_opens_dialog(
    hub: Hub, peer: TelegramPeer, operator: OperatorClient, chat_id: int, text: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Add the ``shop`` bot to ``hub`` and post a client's first message to it; the dialog
    ``operator``'s socket announced, and the update (which ``peer.user_edit`` can change)."""
    await hub.add_channel("telegram", "shop", WEBHOOK)
    update = peer.user_message(chat_id, text)
    assert await post_update(hub, update) == 200
    dialog: dict[str, Any] = (await operator.receive_until("dialog"))["dialog"]
    return dialog, update


@pytest.fixture(name="peer")
async def telegram_peer() -> AsyncIterator[TelegramPeer]:
    """A running fake Bot API for the test bot, stopped after the test."""
    server = TelegramPeer(TOKEN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(name="hub")
async def telegram_hub(
    start_hub: StartHub, peer: TelegramPeer, redis_url: str, tmp_path: Path
) -> Hub:
    """A whole hub whose Telegram connector calls ``peer`` instead of the Bot API."""
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, telegram_api_base=peer.base))
    return hub
