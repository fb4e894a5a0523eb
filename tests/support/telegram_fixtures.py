"""Fixtures of the tests that drive a hub's Telegram connector against ``TelegramPeer``.

A conftest or test module takes them by importing them (pytest finds fixtures in its
namespace); they are registered under the names ``peer`` and ``hub``, so importing them does not
shadow a test's ``peer`` and ``hub`` parameters.

- ``peer`` (function): a running ``TelegramPeer`` for the test bot (``telegram_peer.TOKEN``).
- ``hub`` (function): a whole hub whose Telegram connector talks to that peer; needs the
  ``start_hub`` fixture of tests/connectors/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.connector_hub import Hub, StartHub, make_settings
from tests.support.telegram_peer import TOKEN, TelegramPeer


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
