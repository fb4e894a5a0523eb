"""Debian's redis-server for fault tests: AOF with ``appendfsync always`` on one fixed port and
data directory, so that a test may ``kill -9`` it or send ``SHUTDOWN`` and start it again.

The server is told by the kernel to die with the thread that started it (``PR_SET_PDEATHSIG``:
start it from the main thread) and runs in its own session, so a killed test run leaves nothing
behind. Its output goes to ``redis.log`` in its data directory; a failure shows the last lines.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.servers import DEBIAN_REDIS_SERVER, INSTALL_HINT, ServerStartError, free_port

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the forked child must not dlopen


def _die_with_parent() -> None:
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Child:
    """One child process writing to ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        """True while the child runs."""
        return self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        """The last lines of the child's log."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, sig: signal.Signals = signal.SIGTERM, grace_s: float = 10.0) -> None:
        """Send ``sig``, wait up to ``grace_s``, then SIGKILL. Nothing once stopped."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()


def spawn(name: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> Child:
    """Start a child with stdout and stderr appended to ``log``."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Child(name, process, log)


@dataclass
class DurableRedis:
    """Debian's redis-server with AOF and ``appendfsync always`` on one fixed port and data
    directory: every restart serves the data the last one had acknowledged."""

    directory: Path
    port: int = field(default_factory=free_port)
    child: Child | None = None

    @property
    def url(self) -> str:
        """The URL clients use."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, wait_s: float = 20.0) -> None:
        """Start the server and return once it answers PING (its AOF loaded)."""
        if not os.access(DEBIAN_REDIS_SERVER, os.X_OK):
            raise ServerStartError(f"{DEBIAN_REDIS_SERVER} is missing: {INSTALL_HINT}")
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            str(DEBIAN_REDIS_SERVER),
            "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes",
        ]  # fmt: skip
        self.child = spawn("redis", args, self.directory / "redis.log")
        deadline = time.monotonic() + wait_s
        while not self._answers():
            if not self.child.alive() or time.monotonic() > deadline:
                raise ServerStartError(f"redis-server did not start:\n{self.child.tail()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        address = ("127.0.0.1", self.port)
        with contextlib.suppress(OSError), socket.create_connection(address, 1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
        return False

    def kill(self) -> None:
        """``kill -9``: no chance to write anything more."""
        if self.child is not None:
            self.child.stop(signal.SIGKILL)

    def shutdown(self) -> None:
        """The ``SHUTDOWN`` command: Redis flushes its AOF and exits."""
        address = ("127.0.0.1", self.port)
        with contextlib.suppress(OSError), socket.create_connection(address, 2) as conn:
            conn.sendall(b"SHUTDOWN\r\n")
            conn.recv(64)  # the server closes the connection as it exits
        if self.child is not None:
            self.child.process.wait(20)

    def stop(self) -> None:
        """Stop the server if it runs."""
        if self.child is not None:
            self.child.stop()
