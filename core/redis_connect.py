"""The hub's Redis client from ``redis_url``: one server, a master found through Sentinel, or a
Redis Cluster.

``redis://[:password@]host:port/db`` (and ``rediss://``, ``unix://``) connect to one server.
``redis+sentinel://[:password@]host:26379,host2:26379,host3:26379/<master name>/<db>`` asks
those sentinels for the master named ``<master name>``; the password, if any, is the master's.
Every connection is made to whatever master the sentinels name at that moment, so after a
failover the components' next connection (they all retry when Redis goes away) reaches the
promoted replica, and a connection to a demoted master is dropped on its first read-only error.
``redis+cluster://[:password@]host:6379[,host2:6379…]`` connects to a Redis Cluster; the
addresses are where to ask for the cluster's layout (one live node is enough, list several),
and there is no database number (a cluster has only database 0). Keys one command touches
share a slot (``core.streams``); the client follows MOVED and ASK redirects when slots move.

The single-server and Sentinel pools block a caller while every connection is busy, rather
than raising: consumers hold a connection for up to ``bus_block_ms`` each, and a burst of
visitors must wait, not fail. A cluster client has ``max_connections`` per node, and raises
``MaxConnectionsError`` past it (redis-py's cluster pool cannot wait), so give it headroom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo
from redis.exceptions import ConnectionError as RedisConnectionError

from core.redis_pool import LeanPool, LeanSentinelPool, lean

SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
POOL_TIMEOUT_S = 10

SOCKET_TIMEOUT_S = 5.0
"""How long a connection waits on a silent Redis before it counts as lost (redis-py's own
default, named here because blocking reads must stay under it: ``quiet_read_ms``)."""


def reconnect_once() -> Retry:
    """A command that meets a closed connection connects again and is sent once more.

    After Redis restarts, every pooled connection is dead, and without this the first command
    on each fails ("Connection closed by server") although the server is back. Only a lost
    connection is retried, at once: a server that is still away refuses the new connection at
    once too, so an outage is reported as quickly as before, and a timeout is never doubled.
    """
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


@dataclass(frozen=True)
class SentinelTarget:
    """Where the sentinels are and which master of theirs the hub uses."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    password: str | None = None


def check_sentinel_url(url: str) -> SentinelTarget:
    """Parse ``redis+sentinel://[:password@]host:port[,host:port…]/master[/db]``."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"redis_url: not a {SENTINEL_SCHEME}:// URL")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    password = unquote(userinfo.partition(":")[2]) if userinfo else None
    sentinels = _addresses(hosts, "sentinel")
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("redis_url: the path must be /<master name> or /<master name>/<db>")
    if len(path) == 2 and not path[1].isdigit():
        raise ValueError(f"redis_url: database {path[1]!r} is not a number")
    db = int(path[1]) if len(path) == 2 else 0
    return SentinelTarget(sentinels, unquote(path[0]), db, password or None)


@dataclass(frozen=True)
class ClusterTarget:
    """Where to ask for a Redis Cluster's layout, and its password."""

    nodes: tuple[tuple[str, int], ...]
    password: str | None = None


def check_cluster_url(url: str) -> ClusterTarget:
    """Parse ``redis+cluster://[:password@]host:port[,host:port…][/]``."""
    parts = urlsplit(url)
    if parts.scheme != CLUSTER_SCHEME:
        raise ValueError(f"redis_url: not a {CLUSTER_SCHEME}:// URL")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    password = unquote(userinfo.partition(":")[2]) if userinfo else None
    if parts.path.strip("/"):
        raise ValueError("redis_url: a cluster URL has no path (a cluster has only database 0)")
    return ClusterTarget(_addresses(hosts, "cluster node"), password or None)


def _addresses(hosts: str, what: str) -> tuple[tuple[str, int], ...]:
    found: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"redis_url: {what} address {item!r} is not host:port")
        found.append((host.strip("[]"), int(port)))
    return tuple(found)


DRIVER = DriverInfo()
"""What every connection tells the server it is (``CLIENT SETINFO``), read once: given none,
redis-py builds it again for each new connection, reading its own package metadata, a
millisecond of CPU each time a burst of commands (visitors joining or leaving at once) grows
the pool."""


def connect(url: str, max_connections: int) -> aioredis.Redis:
    """A client (owning its pool: ``aclose`` closes both) for ``url``; decodes replies."""
    scheme = urlsplit(url).scheme
    if scheme == CLUSTER_SCHEME:
        return _cluster(check_cluster_url(url), max_connections)
    if scheme != SENTINEL_SCHEME:
        pool = LeanPool.from_url(
            url,
            decode_responses=True,
            max_connections=max_connections,
            timeout=POOL_TIMEOUT_S,
            socket_timeout=SOCKET_TIMEOUT_S,
            retry=reconnect_once(),
            driver_info=DRIVER,
        )
        return aioredis.Redis.from_pool(lean(pool))
    target = check_sentinel_url(url)
    sentinel = Sentinel(list(target.sentinels), socket_timeout=2)  # type: ignore[no-untyped-call]
    client: aioredis.Redis = sentinel.master_for(
        target.master,
        connection_pool_class=LeanSentinelPool,
        db=target.db,
        password=target.password,
        decode_responses=True,
        max_connections=max_connections,
        timeout=POOL_TIMEOUT_S,
        retry=reconnect_once(),
        driver_info=DRIVER,
    )
    lean(client.connection_pool)  # type: ignore[arg-type]
    return client


def quiet_read_ms(client: aioredis.Redis, wanted_ms: int) -> int:
    """How long a blocking read that its reader cancels on stop may wait on a quiet stream:
    ``wanted_ms``, unless the client gives up on a silent socket sooner (``SOCKET_TIMEOUT_S``,
    2 s on Sentinel), then a little under that, so a quiet stream never looks like an outage."""
    pool = getattr(client, "connection_pool", None)
    timeout = (getattr(pool, "connection_kwargs", None) or {}).get(
        "socket_timeout", SOCKET_TIMEOUT_S
    )
    if not timeout:
        return wanted_ms
    return max(1, min(wanted_ms, int(timeout * 1000 * 3 / 4)))


def _cluster(target: ClusterTarget, max_connections: int) -> aioredis.Redis:
    cluster = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
        password=target.password,
        decode_responses=True,
        max_connections=max_connections,  # per node
        # A MOVED reply (a slot was resharded) patches that slot in the client's map. A full
        # reload instead, which redis-py does every few MOVED replies by default, drops every
        # node's connections, including those other components are reading on.
        reinitialize_steps=0,
    )
    # RedisCluster offers every command the hub uses, with the same signatures, but is no
    # subclass of Redis: the hub's components are typed against the single-server client.
    return cast(aioredis.Redis, cluster)


def is_cluster(redis: object) -> bool:
    """True for a client of a Redis Cluster."""
    return isinstance(redis, RedisCluster)


async def load_cluster_map(redis: aioredis.Redis) -> None:
    """Read a cluster's slot map once, before components share the client.

    Left to the first commands, many components would start loading it at once, and one that
    found no map yet treats that as a cluster fault and closes every node's connections.
    Does nothing for a client of one server.
    """
    if isinstance(redis, RedisCluster):
        await redis.initialize()
