"""Session-wide test servers: real Redis (6.2 and 7), PostgreSQL and SQLite.

Fixtures (fixtures of one package's tests live in the conftest of its folder):

- ``redis_server`` (session): a running ``servers.RedisServer``, parametrised over the two
  Redis versions production may run (ids ``redis6.2``, ``redis7``), so every test that uses
  it runs once per version. One server per version for the whole session.
- ``redis_url`` (function): that server's URL, after FLUSHALL, so each test starts empty.
- ``pg_cluster`` (session): a throwaway ``servers.PostgresCluster``, started the first time
  a test asks for it (~0.7 s), never in runs that do not need PostgreSQL.
- ``postgres_url`` (function): SQLAlchemy URL of a new database in that cluster at this
  version's schema, dropped after the test.
- ``sqlite_url`` (function): SQLAlchemy URL of a new SQLite file under ``tmp_path`` at this
  version's schema.
- ``db_url`` (function): ``sqlite_url`` or ``postgres_url``, parametrised (ids ``sqlite``,
  ``postgres``), for code that must work on both databases.
- ``empty_postgres_url``, ``empty_sqlite_url``, ``empty_db_url`` (function): the same, with
  no schema at all, for tests of the migrations themselves.

A database at this version's schema is a copy of one the session migrated once per backend
(``sqlite_template``, ``pg_template``): the migrations take 0.4–0.6 s a database, and about
400 tests start on one. A copy is the same schema the hub's start would make; the hub finds
it at the heads and starts without Alembic, as it does on every start but the first.
- ``settings`` / ``hub`` (function): a whole hub on a loopback port against ``redis_url``
  and ``db_url``.
- ``visitor`` (function): a web chat ``VisitorClient`` connected to ``hub`` (whichever ``hub``
  the test's folder or module provides).

A test that takes both a Redis version and a database backend runs on two pairs, Redis 6.2
with SQLite and Redis 7 with PostgreSQL, rather than on all four combinations: each version
and each backend is still covered, at half the time. ``OPENLINES_FULL_MATRIX=1`` runs all four.

Browser fixtures (``browser``, ``new_page``) come from support/browser_fixtures.py; browser
tests take its SQLite-only ``settings`` and ``hub`` by importing them.

Every server is stopped at session end by its fixture's teardown, whether tests passed or not.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from config.settings import Settings
from core.bus import Bus
from core.db import make_engine, upgrade
from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import (  # noqa: F401  (fixtures and a hook, found here by pytest)
    browser,
    new_page,
    playwright,
    pytest_runtest_makereport,
)
from tests.support.hubclient import VisitorClient
from tests.support.mailpeers import Dovecot, MailPeers, Postfix
from tests.support.servers import PostgresCluster, RedisServer

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


@pytest.fixture
async def bus(redis_url: str) -> AsyncIterator[Bus]:
    """A bus on that Redis, for a test that publishes to the hub's streams itself."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield Bus(client)
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster private to this session; trust auth, superuser ``postgres``."""
    with PostgresCluster() as cluster:
        yield cluster


async def _migrated(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def pg_template(pg_cluster: PostgresCluster) -> str:
    """Name of a database of the cluster at this version's schema, for ``postgres_url``."""
    name = "openlines_template"
    await _migrated(await pg_cluster.create_database(name))
    return name


@pytest.fixture
async def empty_postgres_url(pg_cluster: PostgresCluster) -> AsyncIterator[str]:
    """URL (``postgresql+asyncpg://``) of a new empty database, dropped after the test."""
    # A database per test costs ~0.05 s and isolates tests that commit, unlike a rollback.
    name = f"t{next(_database_numbers)}"
    url = await pg_cluster.create_database(name)
    try:
        yield url
    finally:
        await pg_cluster.drop_database(name)


@pytest.fixture
async def postgres_url(pg_cluster: PostgresCluster, pg_template: str) -> AsyncIterator[str]:
    """URL (``postgresql+asyncpg://``) of a new database at this version's schema, dropped
    after the test."""
    name = f"t{next(_database_numbers)}"
    url = await pg_cluster.create_database(name, template=pg_template)
    try:
        yield url
    finally:
        await pg_cluster.drop_database(name)


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database file at this version's schema, for ``sqlite_url``."""
    path = tmp_path_factory.mktemp("template") / "openlines.db"
    await _migrated(f"sqlite+aiosqlite:///{path}")
    # The last connection's close checkpoints the write-ahead log into the file.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    """URL (``sqlite+aiosqlite://``) of a database file that does not exist yet."""
    return f"sqlite+aiosqlite:///{tmp_path / 'openlines.db'}"


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """URL (``sqlite+aiosqlite://``) of a new database file at this version's schema."""
    path = tmp_path / "openlines.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"], ids=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """URL of a database at this version's schema on each backend in turn."""
    # Sync on purpose: getfixturevalue runs the async fixtures on the session loop, which
    # cannot happen from inside a coroutine already running on that loop.
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture(params=["sqlite", "postgres"], ids=["sqlite", "postgres"])
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """URL of an empty database on each backend in turn."""
    url: str = request.getfixturevalue(f"empty_{request.param}_url")
    return url


@pytest.fixture
def settings(redis_url: str, db_url: str, tmp_path: Path) -> Settings:
    """Settings of a hub on the session's Redis and an empty database of each backend."""
    return Settings(
        redis_url=redis_url,
        database_url=db_url,
        data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD,
        inbound_shards=2,
        claim_idle_ms=500,
    )


@pytest.fixture(scope="session")
def mail_peers() -> Iterator[MailPeers]:
    """Dovecot and Postfix for the whole session (``tests/support/mailpeers.py``), started
    once, on the first test that asks (~3.5 s), from the main thread."""
    with Dovecot() as dovecot, Postfix(dovecot.lmtp_port) as postfix:
        yield MailPeers(dovecot, postfix)


@pytest.fixture
def app(settings: Settings) -> web.Application:
    """The hub's application with every component, served by ``hub``."""
    return build_app(settings)


@pytest.fixture
async def hub(app: web.Application) -> AsyncIterator[str]:
    """The base URL of a running hub with every component."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def visitor(hub: str) -> AsyncIterator[VisitorClient]:
    client = VisitorClient(hub)
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


SERVER_FIXTURES = frozenset(
    {
        "redis_server",
        "pg_cluster",
        "db_url",
        "empty_db_url",
        "postgres_url",
        "empty_postgres_url",
        "mail_peers",
        "browser",
    }
)
"""Fixtures that start a server (``db_url`` asks for PostgreSQL at run time); a test that needs
none of them, and is not marked ``servers``, is marked ``pure``."""


MATRIX_PAIRS = frozenset({("6.2", "sqlite"), ("7", "postgres")})
"""The (Redis version, database) pairs a test parametrised over both runs on by default."""


def _off_the_matrix_pairs(item: pytest.Item) -> bool:
    """Whether ``item`` runs on a Redis version and database pair outside ``MATRIX_PAIRS``."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "redis_server" not in params or "db_url" not in params:
        return False
    # A test that names its own version or backend has chosen its pair.
    for mark in item.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if {"redis_server", "db_url"} & set(names):
            return False
    return (params["redis_server"], params["db_url"]) not in MATRIX_PAIRS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the matrix to its pairs, and mark the tests that start no server ``pure``.

    ``make unit`` runs just the pure ones.
    """
    if os.environ.get("OPENLINES_FULL_MATRIX") != "1":
        dropped = [item for item in items if _off_the_matrix_pairs(item)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if not _off_the_matrix_pairs(item)]
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if not fixtures & SERVER_FIXTURES and item.get_closest_marker("servers") is None:
            item.add_marker(pytest.mark.pure)
