"""Fixtures for the router tests.

- ``visitor`` (function): a connected webchat ``VisitorClient`` on the whole ``hub``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.hubclient import VisitorClient


@pytest.fixture
async def visitor(hub: str) -> AsyncIterator[VisitorClient]:
    client = VisitorClient(hub)
    await client.connect()
    yield client
    await client.close()
