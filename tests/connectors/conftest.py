"""Fixtures for connector tests.

- ``start_hub`` (function): starts whole hubs (``connector_hub.Hub``) for given settings and
  stops them after the test.
- ``admin`` (function): an ``OperatorClient`` logged in as the admin, socket open, on the
  module's or kind's ``hub`` fixture (a ``connector_hub.Hub``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from config.settings import Settings
from tests.support.admin import ADMIN_PASSWORD
from tests.support.connector_hub import Hub, StartHub
from tests.support.hubclient import OperatorClient


@pytest.fixture
async def start_hub() -> AsyncIterator[StartHub]:
    servers: list[TestServer] = []

    async def start(settings: Settings) -> Hub:
        from operator_console.app import build_app

        server = TestServer(build_app(settings), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return Hub(server)

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def admin(hub: Hub) -> AsyncIterator[OperatorClient]:
    """The admin, logged in to ``hub`` with the live socket open (modules with another ``hub``
    shape define their own)."""
    client = OperatorClient(hub.base)
    await client.login("admin", ADMIN_PASSWORD)
    await client.open_socket()
    yield client
    await client.close()
