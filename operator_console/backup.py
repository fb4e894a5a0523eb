"""``openlines backup DIR`` and ``openlines restore DIR``.

Redis is saved first and the database second. A message the router stored between the two
moments is then in the database copy and still unread or pending in the Redis copy: after a
restore the router handles it again and finds it already stored (handlers are idempotent). The
other order would lose it: stored after the database copy, acked before the Redis copy.

- Redis that answers (``redis_url``, or the embedded server of a running hub): ``BGSAVE``, then
  the RDB file is copied when it is on this machine. Embedded Redis of a stopped hub: its AOF.
- SQLite: the online backup API, a consistent copy while the hub writes.
- PostgreSQL: the ``pg_dump`` and ``pg_restore`` commands are printed.

A restore loads the Redis copy into a temporary redis-server and moves every key into the
hub's Redis with ``DUMP``/``RESTORE``, so the same steps serve the embedded server, a remote one
and either Redis version. The hub must be stopped while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from config.settings import Settings
from core.db import is_sqlite
from core.envelope import utcnow
from core.redis_connect import connect
from core.redis_server import (
    PORT_FILE,
    EmbeddedRedis,
    free_port,
    redis_binary,
    shipped_redis_binary,
)

Say = Callable[[str], None]
MANIFEST = "openlines-backup.json"
SQLITE_COPY = "openlines.db"
RDB_COPY = "redis.rdb"
AOF_COPY = "redis-aof"


LIVE_PREFIXES = (b"lease:", b"presence:sockets:")
"""Keys that say which process holds what right now: the processes of the backup are gone,
so a restored lease would only hold the new router back until it expired."""


class BackupError(Exception):
    """Why a backup or restore cannot go on (said to the user as is)."""


def sqlite_path(settings: Settings) -> Path:
    """The file of the SQLite database of ``settings``."""
    return Path(settings.effective_database_url.split("///", 1)[1])


def _embedded_url(settings: Settings) -> str | None:
    port_file = settings.data_dir / "redis" / PORT_FILE
    return f"redis://127.0.0.1:{port_file.read_text().strip()}/0" if port_file.exists() else None


async def _live_redis(settings: Settings) -> aioredis.Redis | None:
    """A client of the hub's Redis when it answers, else None."""
    url = settings.redis_url or _embedded_url(settings)
    if url is None:
        return None
    client = connect(url, max_connections=4)
    try:
        await client.ping()
    except (OSError, aioredis.ConnectionError):
        await client.aclose()
        if settings.redis_url:
            where = urlsplit(url).hostname or "redis_url"
            raise BackupError(f"Redis at {where} does not answer") from None
        return None
    return client


async def _bgsave(client: aioredis.Redis) -> None:
    while True:
        info: Any = await client.info("persistence")
        if not info.get("rdb_bgsave_in_progress"):
            try:
                await client.bgsave()
                break
            except aioredis.ResponseError as exc:
                if "in progress" not in str(exc):
                    raise
        await asyncio.sleep(0.05)
    while True:
        info = await client.info("persistence")
        if not info.get("rdb_bgsave_in_progress"):
            break
        await asyncio.sleep(0.05)
    if info.get("rdb_last_bgsave_status") != "ok":
        raise BackupError("Redis BGSAVE failed; see the Redis log")


async def _backup_redis(settings: Settings, directory: Path, say: Say) -> str:
    client = await _live_redis(settings)
    if client is None:
        source = settings.data_dir / "redis"
        if not source.exists():
            say("Redis: no data to copy")
            return "none"
        shutil.copytree(source, directory / AOF_COPY,
                        ignore=shutil.ignore_patterns("*.log", "*.pid", PORT_FILE))  # fmt: skip
        say("Redis: the hub is stopped; copied the AOF of its embedded server")
        return "aof"
    try:
        await _bgsave(client)
        found: Any = await client.config_get("dir")
        name: Any = await client.config_get("dbfilename")
    finally:
        await client.aclose()
    rdb = Path(_text(found["dir"])) / _text(name["dbfilename"])
    if not rdb.is_file():
        say(f"Redis: BGSAVE done on another machine; copy {rdb} from there to {directory}")
        return "remote-rdb"
    shutil.copyfile(rdb, directory / RDB_COPY)
    say(f"Redis: BGSAVE, {RDB_COPY} copied")
    return "rdb"


def _sqlite_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_url(settings: Settings) -> str:
    return settings.effective_database_url.replace("+asyncpg", "").replace("+psycopg", "")


def _prepare(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty")
    directory.mkdir(parents=True, exist_ok=True)


async def do_backup(settings: Settings, directory: Path, say: Say = print) -> None:
    """Back the hub's data up into ``directory`` (new or empty), while the hub runs or not."""
    await asyncio.to_thread(_prepare, directory)
    started = utcnow()
    redis_kind = await _backup_redis(settings, directory, say)
    if is_sqlite(settings.effective_database_url):
        await asyncio.to_thread(_sqlite_copy, sqlite_path(settings), directory / SQLITE_COPY)
        say(f"SQLite: online backup to {SQLITE_COPY}")
        database = "sqlite"
    else:
        say("PostgreSQL: back it up with pg_dump, right after this command:\n"
            f"  pg_dump --format=custom --file={directory / 'openlines.pgdump'} "
            f"'{_pg_url(settings)}'")  # fmt: skip
        database = "postgresql"
    manifest = {"created_at": started.isoformat(), "redis": redis_kind, "database": database}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    say(f"Backup written to {directory}")


def _newest_redis_binary() -> Path:
    """The newest redis-server here: it reads the RDB files of every older version."""
    found = {Path(p) for p in (shutil.which("redis-server"), shipped_redis_binary()) if p}
    if not found:
        return redis_binary()

    def version(binary: Path) -> tuple[int, ...]:
        said = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        number = said.split("v=", 1)[1].split()[0] if "v=" in said else "0"
        return tuple(int(part) for part in number.split(".") if part.isdigit())

    return max(found, key=version)


@contextlib.asynccontextmanager
async def _redis_of_backup(directory: Path, binary: Path) -> AsyncIterator[aioredis.Redis | None]:
    """A temporary redis-server holding the backup's data (None: the backup has none)."""
    kind = json.loads((directory / MANIFEST).read_text())["redis"]
    if kind not in ("rdb", "aof"):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="openlines-restore-") as scratch:
        work = Path(scratch)
        args = ["--appendonly", "no", "--dbfilename", RDB_COPY]
        if kind == "rdb":
            shutil.copyfile(directory / RDB_COPY, work / RDB_COPY)
        else:
            shutil.copytree(directory / AOF_COPY, work, dirs_exist_ok=True)
            args = ["--appendonly", "yes"]
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            str(binary), "--bind", "127.0.0.1", "--port", str(port), "--dir",
            str(work), "--save", "", *args,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
        try:
            await _wait_loaded(client, process, binary)
            yield client
        finally:
            await client.aclose()
            process.terminate()
            await process.wait()


async def _wait_loaded(
    client: aioredis.Redis, process: asyncio.subprocess.Process, binary: Path
) -> None:
    async with asyncio.timeout(120):
        while True:
            if process.returncode is not None:
                raise BackupError(f"{binary} could not load the backup's Redis data (too new?)")
            with contextlib.suppress(OSError, aioredis.ConnectionError, aioredis.BusyLoadingError):
                if await client.ping():
                    return
            await asyncio.sleep(0.05)


async def _copy_keys(source: aioredis.Redis, target: aioredis.Redis) -> int:
    await target.flushdb()
    copied = 0
    async for batch in _key_batches(source):
        pipe = source.pipeline(transaction=False)
        for key in batch:
            pipe.dump(key)
            pipe.pttl(key)
        found = await pipe.execute()
        write = target.pipeline(transaction=False)
        for key, dumped, ttl in zip(batch, found[::2], found[1::2], strict=True):
            if dumped is not None and not key.startswith(LIVE_PREFIXES):
                write.restore(key, max(int(ttl), 0), dumped, replace=True)
                copied += 1
        await write.execute()
    return copied


async def _key_batches(client: aioredis.Redis) -> AsyncIterator[list[Any]]:
    cursor: Any = 0
    while True:
        cursor, keys = await client.scan(cursor, count=500)
        if keys:
            yield list(keys)
        if int(cursor) == 0:
            return


async def do_restore(settings: Settings, directory: Path, say: Say = print) -> None:
    """Put the hub's data back from a backup in ``directory``; the hub must be stopped."""
    if not (directory / MANIFEST).is_file():
        raise BackupError(f"{directory} holds no Openlines backup ({MANIFEST} is missing)")
    if not settings.redis_url and await _live_redis(settings) is not None:
        raise BackupError("the hub is running on this data directory; stop it first")
    await _restore_database(settings, directory, say)
    embedded = None if settings.redis_url else EmbeddedRedis(settings.data_dir / "redis")
    # The embedded server takes DUMPs of its own version only; any Redis takes older ones.
    binary = redis_binary() if embedded is not None else _newest_redis_binary()
    async with _redis_of_backup(directory, binary) as source:
        if source is None:
            say("Redis: nothing in the backup to restore")
            return
        if embedded is not None:
            await embedded.start()
        target = connect(settings.redis_url or _embedded_url(settings) or "", max_connections=4)
        try:
            copied = await _copy_keys(source, target)
        finally:
            await target.aclose()
            if embedded is not None:
                await embedded.stop()
    say(f"Redis: {copied} keys restored")


async def _restore_database(settings: Settings, directory: Path, say: Say) -> None:
    if not (directory / SQLITE_COPY).is_file():
        say("PostgreSQL: restore with pg_restore into an empty database:\n"
            f"  pg_restore --clean --if-exists --dbname='{_pg_url(settings)}' "
            f"{directory / 'openlines.pgdump'}")  # fmt: skip
        return
    if not is_sqlite(settings.effective_database_url):
        raise BackupError("the backup holds SQLite data but the hub is set up for PostgreSQL")
    target = sqlite_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        stale.unlink(missing_ok=True)
    await asyncio.to_thread(_sqlite_copy, directory / SQLITE_COPY, target)
    say(f"SQLite: {target} restored")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
