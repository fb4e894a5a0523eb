"""CPU of one Redis round trip through the hub's client against redis-py's own pool.

Both clients are made as the hub makes them, with the hub's pool size and socket timeout: the
library's ``BlockingConnectionPool`` with its default connection, and ``core.redis_connect``'s
(``core.redis_pool``). They take turns in one process on one embedded Redis, so the machine's
moods fall on both alike; each figure is the median of the rounds' CPU per call.

    .venv/bin/python -m bench.redis_calls [--calls 1000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as aioredis
import uvloop

from core.redis_connect import POOL_TIMEOUT_S, SOCKET_TIMEOUT_S, connect, reconnect_once
from core.redis_server import EmbeddedRedis

POOL_SIZE = 64
PAYLOAD = "x" * 200
"""About an envelope's size."""


def _library_client(url: str) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        url, decode_responses=True, max_connections=POOL_SIZE, timeout=POOL_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S, retry=reconnect_once(),
    )  # fmt: skip
    return aioredis.Redis.from_pool(pool)


def _calls(client: aioredis.Redis) -> dict[str, Callable[[], Awaitable[object]]]:
    def pipelined(size: int) -> Callable[[], Awaitable[object]]:
        def call() -> Awaitable[object]:
            pipe = client.pipeline(transaction=False)
            for _ in range(size):
                pipe.xadd("bench:calls", {"data": PAYLOAD}, maxlen=1000, approximate=True)
            return pipe.execute()

        return call

    def alone() -> Awaitable[object]:
        return client.xadd("bench:calls", {"data": PAYLOAD}, maxlen=1000, approximate=True)

    # Ten: about a router batch's publish.
    return {
        "XADD": alone,
        "two XADD in a pipeline": pipelined(2),
        "ten XADD in a pipeline": pipelined(10),
    }


async def _per_call_us(call: Callable[[], Awaitable[object]], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1e6


async def run(calls: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median µs of CPU per call, by call and client."""
    with tempfile.TemporaryDirectory(prefix="openlines-calls-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis")
        await server.start()
        clients = {
            "redis-py pool": _library_client(server.url),
            "hub client": connect(server.url, POOL_SIZE),
        }
        try:
            spent: dict[str, dict[str, list[float]]] = {}
            for name, client in clients.items():
                for call_name, call in _calls(client).items():
                    await _per_call_us(call, calls // 10)  # connections made, caches warm
                    spent.setdefault(call_name, {})[name] = []
            for _ in range(rounds):
                for name, client in clients.items():
                    for call_name, call in _calls(client).items():
                        spent[call_name][name].append(await _per_call_us(call, calls))
            return {
                call_name: {name: statistics.median(v) for name, v in by_client.items()}
                for call_name, by_client in spent.items()
            }
        finally:
            for client in clients.values():
                await client.aclose()
            await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_calls", description=__doc__)
    parser.add_argument("--calls", type=int, default=1000, help="calls per round (1000)")
    parser.add_argument("--rounds", type=int, default=20, help="rounds per client (20)")
    args = parser.parse_args(argv)
    if args.calls < 10 or args.rounds < 1:
        parser.error("--calls must be at least 10 and --rounds at least 1")
    figures = uvloop.run(run(args.calls, args.rounds))
    print(f"median µs of CPU per call, {args.rounds} rounds of {args.calls} calls")
    for call_name, by_client in figures.items():
        library, hub = by_client["redis-py pool"], by_client["hub client"]
        print(
            f"  {call_name:<24} redis-py pool {library:7.1f}   hub client {hub:7.1f}"
            f"   ({(hub / library - 1) * 100:+.0f} %)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
