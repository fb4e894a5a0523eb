"""The hub's roles as separate processes (``openlines run --role …``) against one Redis and one
database, as a scaled-out installation runs them.

Every process is a direct child of the test, in its own session, told by the kernel to die with
it (``PR_SET_PDEATHSIG``), with its output in a log file under the deployment's directory that
``tail`` quotes when something goes wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.support.admin import ADMIN_PASSWORD
from tests.support.servers import free_port

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the forked child must not dlopen


def _die_with_parent() -> None:
    _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


@dataclass
class RoleProcess:
    """One ``openlines run --role`` child."""

    role: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        """Where this process serves HTTP (every role answers /healthz)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The process id, which is also part of its consumer name."""
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no batch is finished, no lease released, nothing acked."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def tail(self, lines: int = 40) -> str:
        """The end of the process's log."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


@dataclass
class Deployment:
    """Role processes sharing one Redis, one database and one data directory."""

    directory: Path
    redis_url: str
    database_url: str
    settings: dict[str, str] = field(default_factory=dict)
    """Further ``OPENLINES_*`` settings for every process, without the prefix."""
    processes: list[RoleProcess] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """The environment of every process: the developer's own settings never leak in."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINES_")}
        env.update(
            OPENLINES_REDIS_URL=self.redis_url,
            OPENLINES_DATABASE_URL=self.database_url,
            OPENLINES_DATA_DIR=str(self.directory / "var"),
            OPENLINES_ADMIN_PASSWORD=ADMIN_PASSWORD,
            OPENLINES_CONFIG=str(self.directory / "no-such-openlines.toml"),
            PYTHONUNBUFFERED="1",
        )
        env.update({f"OPENLINES_{k.upper()}": v for k, v in self.settings.items()})
        return env

    def start(self, role: str, *options: str) -> RoleProcess:
        """Start one process of ``role`` (with ``options`` of ``openlines run``); returns at
        once (``ready`` waits for it)."""
        port = free_port()
        log = self.directory / f"{role}-{len(self.processes)}.log"
        command = [sys.executable, "-m", "operator_console.cli", "run", "--role", role, *options]
        with log.open("ab") as out:
            process = subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", str(port)],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child = RoleProcess(role, port, process, log)
        self.processes.append(child)
        return child

    async def ready(self, *children: RoleProcess, timeout: float = 60) -> None:
        """Wait until every child answers /healthz with 200; fail with its log if it dies."""
        async with aiohttp.ClientSession() as http, asyncio.timeout(timeout):
            for child in children:
                while True:
                    if child.process.poll() is not None:
                        raise AssertionError(f"{child.role} exited:\n{child.tail()}")
                    with contextlib.suppress(aiohttp.ClientError, OSError):
                        async with http.get(f"{child.url}/healthz") as answer:
                            if answer.status == 200:
                                break
                    await asyncio.sleep(0.1)

    def stop(self) -> None:
        """Stop every process still running: SIGTERM to all at once, SIGKILL to the late."""
        running = [c for c in self.processes if c.process.poll() is None]
        for child in running:
            child.process.send_signal(signal.SIGTERM)
        for child in running:
            try:
                child.process.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
