"""A session told to hold its entities reads a row once per transaction, even when the code
that read it has let it go; an entity that leaves the session is let go too."""

from __future__ import annotations

import gc
import weakref
from collections.abc import AsyncIterator

import pytest

from core.db import make_engine, make_sessionmaker
from core.db.held import hold_entities
from core.db.schema import Channel, Client, Line
from core.db.writer import make_writer_engine
from core.db.writer_session import DirectSession
from tests.support.client_seed import SeededClient, seed_client
from tests.support.querycount import count_queries


@pytest.fixture
async def seeded(sqlite_url: str) -> AsyncIterator[SeededClient]:
    engine = make_engine(sqlite_url)
    try:
        yield await seed_client(make_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _reads_of_a_line_let_go(sqlite_url: str, line_id: int, hold: bool) -> int:
    engine = make_writer_engine(sqlite_url)
    try:
        async with make_sessionmaker(engine, DirectSession)() as session:
            if hold:
                hold_entities(session.sync_session)
            with count_queries(engine) as statements:
                for _ in range(3):
                    line = await session.get(Line, line_id)
                    assert line is not None and line.key == "l"
                    del line
                    gc.collect()
            return len(statements)
    finally:
        engine.sync_engine.dispose()


async def test_a_held_entity_is_read_once_though_its_reader_let_it_go(
    sqlite_url: str, seeded: SeededClient
) -> None:
    assert await _reads_of_a_line_let_go(sqlite_url, seeded.line_id, hold=False) == 3
    assert await _reads_of_a_line_let_go(sqlite_url, seeded.line_id, hold=True) == 1


async def test_an_entity_that_leaves_the_session_is_let_go(
    sqlite_url: str, seeded: SeededClient
) -> None:
    engine = make_writer_engine(sqlite_url)
    try:
        async with make_sessionmaker(engine, DirectSession)() as session:
            hold_entities(session.sync_session)
            client = await session.get(Client, seeded.client_id)
            channel = await session.get(Channel, seeded.channel_id)
            assert client is not None and channel is not None
            gone, kept = weakref.ref(client), weakref.ref(channel)
            session.expunge(client)
            del client, channel
            gc.collect()
            assert gone() is None
            assert kept() is not None
    finally:
        engine.sync_engine.dispose()
