"""Session-wide test servers: real Redis (6.2 and 7), PostgreSQL and SQLite.

Fixtures (the application's own fixtures live in the conftest files of its test tiers):

- ``redis_server`` (session): a running ``servers.RedisServer``, parametrised over the two
  Redis versions production may run (ids ``redis6.2``, ``redis7``), so every test that uses
  it runs once per version. One server per version for the whole session.
- ``redis_url`` (function): that server's URL, after FLUSHALL, so each test starts empty.
- ``pg_cluster`` (session): a throwaway ``servers.PostgresCluster``, started the first time
  a test asks for it (~0.7 s), never in runs that do not need PostgreSQL.
- ``postgres_url`` (function): SQLAlchemy URL of a fresh, empty database in that cluster,
  dropped after the test.
- ``sqlite_url`` (function): SQLAlchemy URL of a new SQLite file under ``tmp_path``.
- ``db_url`` (function): ``sqlite_url`` or ``postgres_url``, parametrised (ids ``sqlite``,
  ``postgres``), for code that must work on both databases.

Browser fixtures (``browser``, ``hub``, ``new_page``) come from browser_fixtures.py.

Every server is stopped at session end by its fixture's teardown, whether tests passed or not.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio
from browser_fixtures import (  # noqa: F401  (fixtures and a hook, found here by pytest)
    browser,
    hub,
    new_page,
    playwright,
    pytest_runtest_makereport,
    settings,
)
from servers import PostgresCluster, RedisServer

REDIS_VERSIONS = ["6.2", "7"]

# Database names only need to be unique within the one cluster of this session.
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session", params=REDIS_VERSIONS, ids=[f"redis{v}" for v in REDIS_VERSIONS])
def redis_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    """A real redis-server of the parametrised version, shared by the whole session."""
    # Sync on purpose: the server is started from the main thread (see servers.py docstring).
    with RedisServer(request.param) as server:
        yield server


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """URL of an emptied Redis (database 0) of the parametrised version."""
    # Flushing before, not after, also cleans up after a test that died mid-way.
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        await client.flushall()
    finally:
        await client.aclose()
    yield redis_server.url


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster private to this session; trust auth, superuser ``postgres``."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
async def postgres_url(pg_cluster: PostgresCluster) -> AsyncIterator[str]:
    """URL (``postgresql+asyncpg://``) of a new empty database, dropped after the test."""
    # A database per test costs ~0.05 s and isolates tests that commit, unlike a rollback.
    name = f"t{next(_database_numbers)}"
    url = await pg_cluster.create_database(name)
    try:
        yield url
    finally:
        await pg_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL (``sqlite+aiosqlite://``) of a database file that does not exist yet."""
    return f"sqlite+aiosqlite:///{tmp_path / 'openlines.db'}"


@pytest.fixture(params=["sqlite", "postgres"], ids=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """URL of an empty database on each backend in turn."""
    # Sync on purpose: getfixturevalue runs the async fixtures on the session loop, which
    # cannot happen from inside a coroutine already running on that loop.
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url
