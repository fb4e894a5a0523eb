"""A whole hub on a loopback port (real Redis, a fresh SQLite or PostgreSQL database), and a
small world in it: two lines, operators on each, and dialogs with messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from console_world import World, make_world
from tests_support import ADMIN_PASSWORD

from config.settings import Settings
from core.db import SessionMaker, make_engine, make_sessionmaker
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


@pytest.fixture
async def db(hub: str, settings: Settings) -> AsyncIterator[SessionMaker]:
    """Sessions on the hub's database (migrated by the hub's start)."""
    engine = make_engine(settings.effective_database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def world(db: SessionMaker) -> World:
    """Two lines, operators on each, a dialog on each (see ``console_world.World``)."""
    return await make_world(db)
