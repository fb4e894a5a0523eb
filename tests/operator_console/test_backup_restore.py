"""``openlines backup`` under load and ``openlines restore``: every message the hub
acknowledged to a visitor before the backup began is stored once after the restore;
``openlines migrate`` upgrades explicitly, and a database from a newer version is refused."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
import redis.asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from config.settings import Settings
from core.db import DatabaseTooNew, make_engine, make_sessionmaker
from core.db.schema import Message
from operator_console.app import build_app
from operator_console.backup import do_backup, do_restore, sqlite_path
from operator_console.cli import main
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import VisitorClient

VISITORS = 6


@pytest.fixture
def hub_settings(redis_url: str, tmp_path: Path) -> Settings:
    """A hub on the test Redis and SQLite under ``tmp_path``."""
    return Settings(
        redis_url=redis_url,
        data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD,
        inbound_shards=2,
        claim_idle_ms=500,
    )


async def _running(settings: Settings) -> TestServer:
    server = TestServer(build_app(settings), host="127.0.0.1")
    await server.start_server()
    return server


async def _chatter(base: str, acked: list[str], stop: asyncio.Event) -> None:
    """One visitor saying one message after another, noting each acknowledged id."""
    visitor = VisitorClient(base)
    try:
        await visitor.connect()
        n = 0
        while not stop.is_set():
            n += 1
            cid = await visitor.say(f"message {n}")
            while (frame := await visitor.receive())["type"] not in ("accepted", "error"):
                pass
            if frame["type"] == "accepted":
                acked.append(cid)
            else:  # the widget's flood limit: a person would wait too
                await asyncio.sleep(0.3)
    finally:
        await visitor.close()


async def _stored(settings: Settings, ids: set[str]) -> dict[str, int]:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(Message.client_msg_id, func.count())
                .where(Message.client_msg_id.in_(ids))
                .group_by(Message.client_msg_id)
            )
            return {cid: count for cid, count in rows if cid is not None}
    finally:
        await engine.dispose()


@pytest.mark.parametrize("redis_server", ["7"], indirect=True)
async def test_a_backup_taken_under_load_restores_every_acknowledged_message(
    hub_settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    server = await _running(hub_settings)
    base = str(server.make_url("")).rstrip("/")
    acked: list[str] = []
    stop = asyncio.Event()
    load = [asyncio.create_task(_chatter(base, acked, stop)) for _ in range(VISITORS)]
    try:
        async with asyncio.timeout(20):
            while len(acked) < 30:
                await asyncio.sleep(0.02)
        before_backup = set(acked)
        await do_backup(hub_settings, tmp_path / "backup", say=lambda _line: None)
        during = len(acked) - len(before_backup)
    finally:
        stop.set()
        await asyncio.gather(*load)
        await server.close()
    assert during > 0, "the load went on while the backup ran"
    # Everything lost: Redis emptied, the database file gone.
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.flushall()
    await client.aclose()
    for leftover in sqlite_path(hub_settings).parent.glob("openlines.db*"):
        leftover.unlink()
    await do_restore(hub_settings, tmp_path / "backup", say=lambda _line: None)
    server = await _running(hub_settings)
    try:
        async with asyncio.timeout(30):
            while len(stored := await _stored(hub_settings, before_backup)) < len(before_backup):
                await asyncio.sleep(0.1)
    finally:
        await server.close()
    assert set(stored) == before_backup
    assert set(stored.values()) == {1}, "stored once each"


def test_migrate_upgrades_and_a_newer_database_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("OPENLINES_")]:
        monkeypatch.delenv(name)
    data = str(tmp_path / "var")
    assert main(["migrate", "--data-dir", data]) == 0
    assert "Upgraded the database from empty to" in capsys.readouterr().out
    assert main(["migrate", "--data-dir", data]) == 0
    assert "up to date" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "var" / "openlines.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    assert main(["migrate", "--data-dir", data]) == 2
    said = capsys.readouterr().err
    assert "revision 9999" in said and "newer version" in said


@pytest.mark.parametrize("redis_server", ["7"], indirect=True)
async def test_run_refuses_a_database_from_a_newer_version(
    hub_settings: Settings,
) -> None:
    hub_settings.data_dir.mkdir(parents=True)
    with sqlite3.connect(sqlite_path(hub_settings)) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        db.execute("INSERT INTO alembic_version VALUES ('9999')")
    with pytest.raises(DatabaseTooNew, match="newer version"):
        await _running(hub_settings)
