"""Fixtures for the Telegram tests.

- ``peer`` (function): a running ``TelegramPeer`` for the test bot (``telegram_peer.TOKEN``).
- ``hub`` (function): a whole hub whose Telegram connector talks to that peer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.connector_hub import Hub, StartHub, make_settings
from tests.support.telegram_peer import TOKEN, TelegramPeer


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    server = TelegramPeer(TOKEN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def hub(start_hub: StartHub, peer: TelegramPeer, redis_url: str, tmp_path: Path) -> Hub:
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, telegram_api_base=peer.base))
    return hub
