"""Fixtures for the Viber tests.

- ``peer`` (function): a running ``ViberPeer`` for the test bot (``viber_peer.TOKEN``).
- ``hub`` (function): a whole hub whose Viber connector talks to that peer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.connector_hub import Hub, StartHub, make_settings
from tests.support.viber_peer import TOKEN, ViberPeer


@pytest.fixture
async def peer() -> AsyncIterator[ViberPeer]:
    server = ViberPeer(TOKEN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def hub(start_hub: StartHub, peer: ViberPeer, redis_url: str, tmp_path: Path) -> Hub:
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, viber_api_base=peer.base))
    return hub
