"""A Sentinel-managed Redis from Debian's packages: a master and a replica, both with AOF, and
three sentinels that promote the replica once the master is gone.

Every process runs from a directory under ``root`` on a free loopback port, dies with the test
process (``tests.support.durable_redis.spawn``) and is stopped by ``stop``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from tests.support.durable_redis import Child, spawn
from tests.support.servers import DEBIAN_REDIS_SERVER, INSTALL_HINT, ServerStartError, free_port

REDIS_SENTINEL = Path("/usr/bin/redis-sentinel")
MASTER_NAME = "mymaster"
DOWN_AFTER_MS = 1000
"""How long the sentinels wait before calling the master down: the failover's first part."""


def answers(port: int, command: bytes = b"PING\r\n") -> bytes:
    """The raw reply of one command on ``port``, or b"" when nothing answers."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as conn:
        conn.sendall(command)
        return conn.recv(65536)
    return b""


@dataclass
class RedisNode:
    """One redis-server with AOF (``appendfsync everysec``), optionally a replica."""

    directory: Path
    replica_of: int | None = None
    port: int = field(default_factory=free_port)
    child: Child | None = None

    def start(self) -> None:
        """Start and return once it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            str(DEBIAN_REDIS_SERVER),
            "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no",
        ]  # fmt: skip
        if self.replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        self.child = spawn("redis", args, self.directory / "redis.log")
        wait_ready(lambda: answers(self.port).startswith(b"+PONG"), self.child, "redis-server")

    def kill(self) -> None:
        """``kill -9``."""
        if self.child is not None:
            self.child.stop(signal.SIGKILL)


@dataclass
class SentinelGroup:
    """Master, replica and three sentinels watching them."""

    root: Path
    master: RedisNode = field(init=False)
    replica: RedisNode = field(init=False)
    sentinel_ports: list[int] = field(default_factory=list)
    sentinels: list[Child] = field(default_factory=list)

    def start(self) -> None:
        """Start everything; return once the sentinels know the replica and it is in sync."""
        for binary in (DEBIAN_REDIS_SERVER, REDIS_SENTINEL):
            if not os.access(binary, os.X_OK):
                raise ServerStartError(f"{binary} is missing: {INSTALL_HINT}")
        self.master = RedisNode(self.root / "master")
        self.master.start()
        self.replica = RedisNode(self.root / "replica", replica_of=self.master.port)
        self.replica.start()
        for i in range(3):
            self._start_sentinel(self.root / f"sentinel{i}")
        probe = f"SENTINEL REPLICAS {MASTER_NAME}\r\n".encode()
        known = f"{self.replica.port}".encode()
        for port in self.sentinel_ports:
            wait_ready(partial(_names, port, probe, known), None, "sentinel")
        wait_ready(lambda: b"master_link_status:up" in answers(
            self.replica.port, b"INFO replication\r\n"), None, "replica sync")  # fmt: skip

    def _start_sentinel(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        conf = directory / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master.port} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} 5000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        child = spawn("sentinel", [str(REDIS_SENTINEL), str(conf)], directory / "sentinel.log")
        wait_ready(lambda: answers(port).startswith(b"+PONG"), child, "redis-sentinel")
        self.sentinel_ports.append(port)
        self.sentinels.append(child)

    @property
    def url(self) -> str:
        """The hub's ``redis_url`` for this group."""
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/0"

    def master_port_now(self) -> int | None:
        """The master's port as the first sentinel names it now."""
        reply = answers(
            self.sentinel_ports[0], f"SENTINEL GET-MASTER-ADDR-BY-NAME {MASTER_NAME}\r\n".encode()
        )
        lines = reply.decode(errors="replace").split("\r\n")
        return int(lines[4]) if len(lines) > 4 and lines[4].isdigit() else None

    def stop(self) -> None:
        """Stop every process of the group."""
        for child in self.sentinels:
            child.stop()
        for node in (getattr(self, "replica", None), getattr(self, "master", None)):
            if node is not None and node.child is not None:
                node.child.stop()


def _names(port: int, command: bytes, what: bytes) -> bool:
    return what in answers(port, command)


def wait_ready(
    ready: Callable[[], bool], child: Child | None, what: str, timeout: float = 20.0
) -> None:
    """Poll ``ready`` until true; raise with ``child``'s last output if it exits or times out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if child is not None and not child.alive():
            raise ServerStartError(f"{what} exited on start:\n{child.tail()}")
        if time.monotonic() > deadline:
            tail = child.tail() if child is not None else ""
            raise ServerStartError(f"{what} not ready after {timeout} s\n{tail}")
        time.sleep(0.05)
