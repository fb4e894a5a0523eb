"""A whole hub on a loopback port, against the session's real Redis and a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from tests_support import ADMIN_PASSWORD

from config.settings import Settings
from operator_console.app import build_app


@pytest.fixture
def settings(redis_url: str, db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=redis_url,
        database_url=db_url,
        data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD,  # type: ignore[arg-type]
        inbound_shards=2,
        claim_idle_ms=500,
    )


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[str]:
    """The base URL of a running hub with every component."""
    server = TestServer(build_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
