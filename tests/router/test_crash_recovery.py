"""Nothing is lost and nothing is doubled when the router dies mid-batch.

A real router process reads a message from the bus and blocks on the database (another
connection holds SQLite's write lock); the test kills it with SIGKILL, releases the lock and
starts a second router process. The message must be stored once and reach the console once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from config.settings import Settings
from core import streams
from core.bus import Bus
from core.envelope import InboundMessage
from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient
from tests.support.servers import free_port

SHARDS = 2


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "hub.db"


@pytest.fixture
def env(redis_url: str, db_file: Path, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OPENLINES_REDIS_URL": redis_url,
        "OPENLINES_DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
        "OPENLINES_DATA_DIR": str(tmp_path / "var"),
        "OPENLINES_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "OPENLINES_INBOUND_SHARDS": str(SHARDS),
        "OPENLINES_LEASE_TTL_MS": "1000",
        "OPENLINES_CLAIM_IDLE_MS": "500",
    }


@pytest.fixture
async def console(env: dict[str, str]) -> AsyncIterator[str]:
    """The console alone: no router runs in this process."""
    settings = Settings(
        redis_url=env["OPENLINES_REDIS_URL"],
        database_url=env["OPENLINES_DATABASE_URL"],
        data_dir=Path(env["OPENLINES_DATA_DIR"]),
        admin_password=ADMIN_PASSWORD,
        inbound_shards=SHARDS,
    )
    server = TestServer(build_app(settings, role="console"), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
def routers(env: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def start_router(env: dict[str, str], started: list[subprocess.Popen[bytes]]) -> None:
    cmd = [
        sys.executable,
        "-m",
        "operator_console.cli",
        "run",
        "--role",
        "router",
        "--port",
        str(free_port()),
    ]
    started.append(
        subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    )


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    # Generous: a fresh router process spends seconds on imports alone on a busy 2-core box.
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


def stored(db_file: Path, external_id: str) -> int:
    with sqlite3.connect(db_file, timeout=30) as conn:
        row = conn.execute(
            "SELECT count(*) FROM messages WHERE external_id = ?", (external_id,)
        ).fetchone()
    return int(row[0])


async def test_router_killed_before_storing_a_message_loses_and_doubles_nothing(
    console: str,
    env: dict[str, str],
    db_file: Path,
    routers: list[subprocess.Popen[bytes]],
    redis_url: str,
) -> None:
    operator = OperatorClient(console)
    await operator.login("admin", ADMIN_PASSWORD)
    await operator.open_socket()
    redis = aioredis.from_url(redis_url, decode_responses=True)
    bus = Bus(redis)

    message = InboundMessage(
        channel_id=1,
        external_user_id="visitor-1",
        external_message_id="m-1",
        text="survive the crash",
        echo=True,
    )  # as the demo web chat stamps it
    shard = streams.inbound(streams.shard_of(1, "visitor-1", SHARDS))
    await bus.publish(shard, message)

    # Hold SQLite's write lock so the router reads the message and then blocks on its write.
    lock = sqlite3.connect(db_file, timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    start_router(env, routers)

    async def read_but_not_acked() -> bool:
        try:
            return int((await redis.xpending(shard, streams.ROUTER_GROUP))["pending"]) == 1
        except aioredis.ResponseError:  # the group does not exist yet
            return False

    await wait_for(read_but_not_acked)
    routers[0].send_signal(signal.SIGKILL)
    routers[0].wait()
    lock.execute("ROLLBACK")
    lock.close()
    assert stored(db_file, "m-1") == 0

    start_router(env, routers)
    await wait_for(lambda: asyncio.sleep(0, stored(db_file, "m-1") == 1))

    # A second message on the same shard marks the end: the router handles a shard in order,
    # so any repeat of the first message would reach the console before this one.
    await bus.publish(
        shard,
        InboundMessage(
            channel_id=1,
            external_user_id="visitor-1",
            external_message_id="m-2",
            text="sentinel",
            echo=True,
        ),
    )
    await operator.receive_until("message", text="sentinel", timeout=60)
    texts = [f["message"]["text"] for f in operator.frames if f["type"] == "message"]
    assert texts == ["survive the crash", "sentinel"], operator.frames
    assert stored(db_file, "m-1") == 1

    async def all_acked() -> bool:
        return int((await redis.xpending(shard, streams.ROUTER_GROUP))["pending"]) == 0

    await wait_for(all_acked)  # the ack follows the publish, so allow it a moment
    await operator.close()
    await redis.aclose()
