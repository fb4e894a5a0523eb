"""A small world in the hub of tests/conftest.py (real Redis, a fresh SQLite or PostgreSQL
database): two lines, operators on each, and dialogs with messages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from config.settings import Settings
from core.db import SessionMaker, make_engine, make_sessionmaker
from tests.support.console_world import World, make_world


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
