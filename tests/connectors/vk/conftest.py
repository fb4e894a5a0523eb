"""Fixtures for the VK tests.

- ``peer`` (function): a running ``VkPeer`` for the test community (``vk_peer.TOKEN``/``GROUP``).
- ``hub`` (function): a whole hub whose VK connector talks to that peer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.connector_hub import Hub, StartHub, make_settings
from tests.support.vk_peer import GROUP, SECRET, TOKEN, VkPeer


@pytest.fixture
async def peer() -> AsyncIterator[VkPeer]:
    server = VkPeer(TOKEN, GROUP, secret=SECRET)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def hub(start_hub: StartHub, peer: VkPeer, redis_url: str, tmp_path: Path) -> Hub:
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, vk_api_base=peer.base))
    return hub
