"""The test servers are the real thing: versions, protocol differences, isolation, cleanup."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis.asyncio
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from core.db import at_head
from core.db.schema import Line
from tests.support.mailpeers import Postfix
from tests.support.servers import PostgresCluster, RedisServer, free_port

pytestmark = pytest.mark.servers  # starts and stops servers of its own


async def test_redis_reports_the_version_it_was_started_as(
    redis_server: RedisServer, redis_url: str
) -> None:
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        info = await client.info("server")
    assert str(info["redis_version"]).startswith(f"{redis_server.version}.")


# Two rounds against the same session server: the second sees nothing of the first.
@pytest.mark.parametrize("round_", [1, 2])
async def test_each_test_gets_an_empty_redis(redis_url: str, round_: int) -> None:
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        assert await client.dbsize() == 0
        await client.set("left-behind", round_)


async def test_xautoclaim_reply_differs_between_6_2_and_7(
    redis_server: RedisServer, redis_url: str
) -> None:
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        await client.xadd("in", {"n": "1"}, id="1-0")
        await client.xadd("in", {"n": "2"}, id="2-0")
        await client.xgroup_create("in", "router", id="0")
        await client.xreadgroup("router", "crashed", {"in": ">"})
        await client.xdel("in", "2-0")  # deleted while pending, as trimming also does
        # execute_command, not xautoclaim(): the reply as the server shapes it (redis-py's
        # callback still turns entries into tuples but keeps the element count).
        reply = await client.execute_command(  # type: ignore[no-untyped-call]  # redis-py
            "XAUTOCLAIM", "in", "router", "rescuer", 0, "0-0", "COUNT", 10
        )
        pending = await client.xpending("in", "router")

    live = (b"1-0", {b"n": b"1"})
    if redis_server.version == "6.2":
        # cursor and entries only; the deleted entry stays pending and comes back as nil
        assert reply == [b"0-0", [live, (None, None)]]
        assert pending["pending"] == 2
    else:
        # 7.0 adds a third element listing deleted IDs, which it drops from the PEL
        assert reply == [b"0-0", [live], [b"2-0"]]
        assert pending["pending"] == 1


async def test_postgres_answers_through_sqlalchemy_and_asyncpg(
    pg_cluster: PostgresCluster, postgres_url: str
) -> None:
    engine = create_async_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(text("select version()"))).scalar_one()
    finally:
        await engine.dispose()
    assert engine.dialect.driver == "asyncpg"
    assert version.startswith(f"PostgreSQL {pg_cluster.bin_dir.parent.name}.")


async def test_postgres_databases_are_isolated(pg_cluster: PostgresCluster) -> None:
    first = await pg_cluster.create_database("isolation_a")
    second = await pg_cluster.create_database("isolation_b")
    engines = [create_async_engine(first), create_async_engine(second)]
    try:
        async with engines[0].begin() as conn:
            await conn.execute(text("create table dialogs (id int primary key)"))
            await conn.execute(text("insert into dialogs values (1)"))
        async with engines[1].connect() as conn:
            seen = (await conn.execute(text("select to_regclass('dialogs')"))).scalar_one()
        assert seen is None
    finally:
        for engine in engines:
            await engine.dispose()
        await pg_cluster.drop_database("isolation_a")
        await pg_cluster.drop_database("isolation_b")


async def test_empty_db_url_opens_each_backend(
    empty_db_url: str, request: pytest.FixtureRequest
) -> None:
    engine = create_async_engine(empty_db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("create table lines (name text)"))
            await conn.execute(text("insert into lines values ('support')"))
            names = (await conn.execute(text("select name from lines"))).scalars().all()
    finally:
        await engine.dispose()
    expected = {"sqlite": "sqlite", "postgres": "postgresql"}[request.node.callspec.id]
    assert engine.dialect.name == expected
    assert names == ["support"]


@pytest.mark.parametrize("round_", [1, 2])
async def test_db_url_is_a_fresh_copy_at_this_versions_schema(db_url: str, round_: int) -> None:
    """Each test's database is at the heads and holds nothing another test wrote (the second
    round sees no line of the first)."""
    engine = create_async_engine(db_url)
    try:
        assert await at_head(engine)
        async with engine.begin() as conn:
            assert (await conn.execute(text("select count(*) from lines"))).scalar() == 0
            await conn.execute(insert(Line).values(key="l", name="Support"))
    finally:
        await engine.dispose()


async def test_a_cluster_in_a_kept_directory_outlives_its_stop() -> None:
    kept = Path(tempfile.mkdtemp(prefix="openlines-kept-pg-"))  # the postgres user reaches it
    try:
        with PostgresCluster(directory=kept) as cluster:
            engine = create_async_engine(await cluster.create_database("kept"))
            async with engine.begin() as conn:
                await conn.execute(text("create table lines (name text)"))
                await conn.execute(text("insert into lines values ('support')"))
            await engine.dispose()
        assert (kept / "data" / "PG_VERSION").exists()
        with PostgresCluster(directory=kept) as cluster:  # the same cluster, started again
            engine = create_async_engine(cluster.url("kept"))
            async with engine.connect() as conn:
                names = (await conn.execute(text("select name from lines"))).scalars().all()
            await engine.dispose()
        assert names == ["support"]
    finally:
        shutil.rmtree(kept)


def test_stop_ends_the_server_and_removes_its_directory() -> None:
    server = RedisServer("7").start()
    port, directory = server.port, server.directory
    assert directory is not None and _answers(port)
    server.stop()
    assert not _answers(port)
    assert not directory.exists()
    server.stop()  # a second stop is harmless


def test_a_stopped_postfix_leaves_no_master_running() -> None:
    # Its master makes a session of its own, out of reach of the command that started it.
    postfix = Postfix(lmtp_port=free_port()).start()
    assert postfix.directory is not None
    master = Path(f"/proc/{(postfix.directory / 'spool/pid/master.pid').read_text().split()[0]}")
    assert master.exists()
    postfix.stop()
    deadline = time.monotonic() + 10
    while master.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not master.exists()


# The code the child runs: start both kinds of server, say where they are, then hang.
_CHILD = """
import sys, time
from core.db import at_head
from core.db.schema import Line
from tests.support.servers import PostgresCluster, RedisServer
r = RedisServer("7").start()
pg = PostgresCluster().start()
print(r.port, pg.port, r.directory, pg.directory, flush=True)
time.sleep(120)
"""


def test_a_killed_test_run_leaves_no_server_running() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        redis_port, pg_port, *directories = child.stdout.readline().split()
        assert _answers(int(redis_port)) and _answers(int(pg_port))
    finally:
        child.send_signal(signal.SIGKILL)  # no finaliser runs, as after pytest-timeout's os._exit
        child.wait()
    try:
        deadline = time.monotonic() + 5
        while _answers(int(redis_port)) or _answers(int(pg_port)):
            assert time.monotonic() < deadline, "a server outlived the process that started it"
            time.sleep(0.02)
    finally:
        # Only the temporary directories are left to the caller after a hard kill.
        for directory in directories:
            shutil.rmtree(directory)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
