"""A three-master Redis Cluster from Debian's packages, and moving one hash slot between masters
the way ``redis-cli --cluster reshard`` does, while clients keep using it.

Every node runs from a directory under ``root`` on a free loopback port (its cluster bus on
port + 10000), dies with the test process (``tests.support.durable_redis.spawn``) and is
stopped by ``stop``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from tests.support.durable_redis import Child, spawn
from tests.support.sentinel_group import answers, wait_ready
from tests.support.servers import (
    DEBIAN_REDIS_SERVER,
    INSTALL_HINT,
    ServerStartError,
    bindable,
    free_port,
)

REDIS_CLI = Path("/usr/bin/redis-cli")
MASTERS = 3


def _cluster_port() -> int:
    # The cluster bus listens on port + 10000, which must be free too: a port the kernel hands
    # out is in its ephemeral range, where the other end of any outgoing connection may sit.
    while True:
        port = free_port()
        if port + 10000 < 65536 and bindable(port + 10000):
            return port


@dataclass
class ClusterNode:
    """One redis-server with ``cluster-enabled yes``."""

    directory: Path
    port: int = field(default_factory=_cluster_port)
    child: Child | None = None

    def start(self) -> None:
        """Start and return once it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            str(DEBIAN_REDIS_SERVER),
            "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "5000", "--appendonly", "no", "--save", "",
            "--daemonize", "no",
        ]  # fmt: skip
        self.child = spawn("redis", args, self.directory / "redis.log")
        wait_ready(lambda: answers(self.port).startswith(b"+PONG"), self.child, "redis-server")

    def client(self) -> aioredis.Redis:
        """A client of this node alone (no redirects followed)."""
        return aioredis.Redis(port=self.port, decode_responses=True)


@dataclass
class RedisClusterGroup:
    """Three masters, no replicas, the slots split evenly by ``redis-cli --cluster create``."""

    root: Path
    nodes: list[ClusterNode] = field(default_factory=list)

    def start(self) -> None:
        """Start the nodes, join them into a cluster, and return once every node says ok."""
        for binary in (DEBIAN_REDIS_SERVER, REDIS_CLI):
            if not os.access(binary, os.X_OK):
                raise ServerStartError(f"{binary} is missing: {INSTALL_HINT}")
        self.nodes = [ClusterNode(self.root / f"node{i}") for i in range(MASTERS)]
        for node in self.nodes:
            node.start()
        create = [str(REDIS_CLI), "--cluster", "create",
                  *(f"127.0.0.1:{n.port}" for n in self.nodes),
                  "--cluster-replicas", "0", "--cluster-yes"]  # fmt: skip
        done = subprocess.run(create, capture_output=True, timeout=60, check=False)
        if done.returncode != 0:
            raise ServerStartError(f"redis-cli --cluster create failed:\n{done.stdout!r}")
        for node in self.nodes:
            wait_ready(partial(_cluster_ok, node.port), node.child, "cluster state ok")

    @property
    def url(self) -> str:
        """The hub's ``redis_url`` for this cluster."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    async def owner_of(self, slot: int) -> ClusterNode:
        """The node serving ``slot`` now."""
        client = self.nodes[0].client()
        try:
            for start, end, master, *_replicas in await _call(client, "CLUSTER SLOTS"):
                if int(start) <= slot <= int(end):
                    return next(n for n in self.nodes if n.port == int(master[1]))
        finally:
            await client.aclose()
        raise LookupError(f"no node serves slot {slot}")

    async def move_slot(self, slot: int, target: ClusterNode, batch: int = 1) -> int:
        """Move ``slot`` and its keys to ``target`` as ``redis-cli --cluster reshard`` does:
        mark it importing and migrating, MIGRATE its keys ``batch`` at a time, then tell every
        node its new owner. Returns how many keys moved."""
        source = await self.owner_of(slot)
        if source is target:
            return 0
        src, dst = source.client(), target.client()
        try:
            src_id = await _call(src, "CLUSTER MYID")
            dst_id = await _call(dst, "CLUSTER MYID")
            await _call(dst, "CLUSTER SETSLOT", slot, "IMPORTING", src_id)
            await _call(src, "CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
            moved = 0
            while keys := await _call(src, "CLUSTER GETKEYSINSLOT", slot, batch):
                await _call(src, "MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
                moved += len(keys)
            for node in (target, source, *(n for n in self.nodes if n not in (source, target))):
                client = node.client()
                try:
                    await _call(client, "CLUSTER SETSLOT", slot, "NODE", dst_id)
                finally:
                    await client.aclose()
            return moved
        finally:
            await src.aclose()
            await dst.aclose()

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            if node.child is not None:
                node.child.stop()


def _cluster_ok(port: int) -> bool:
    return b"cluster_state:ok" in answers(port, b"CLUSTER INFO\r\n")


async def _call(client: aioredis.Redis, *args: object) -> Any:
    # One raw command to one node (CLUSTER …, MIGRATE): redis-py leaves these untyped.
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]
