"""Wrong passwords are throttled per login and per address, across processes, and an unknown
login takes as long to refuse as a known one."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from config.settings import Settings
from operator_console.app import build_app
from tests.support.console_world import World

StartHub = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_hub(settings: Settings) -> AsyncIterator[StartHub]:
    """Starts hubs sharing the test's Redis and database, with settings changed by ``update``."""
    servers: list[TestServer] = []

    async def start(**update: Any) -> str:
        server = TestServer(build_app(settings.model_copy(update=update)), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


async def attempt(
    hub: str, login: str, password: str, behind: str | None = None
) -> tuple[int, str | None]:
    """One login (from ``behind``, as a proxy on this machine names it): its status and its
    ``Retry-After``."""
    headers = {"Origin": hub} | ({"X-Forwarded-For": behind} if behind else {})
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{hub}/api/login", json={"login": login, "password": password}) as resp,
    ):
        return resp.status, resp.headers.get("Retry-After")


async def test_a_login_locked_in_one_process_is_locked_in_another(
    start_hub: StartHub, world: World
) -> None:
    first = await start_hub(login_max_failures=4, login_lock_seconds=600)
    second = await start_hub(login_max_failures=4, login_lock_seconds=600)
    assert [await attempt(first, "olga", "wrong") for _ in range(2)] == [(401, None)] * 2
    # Past half the limit each failure brings a delay: the next attempt must wait.
    assert await attempt(first, "olga", "wrong") == (401, None)
    assert await attempt(second, "olga", "pw-olga") == (429, "1")
    await asyncio.sleep(1.1)
    assert await attempt(second, "olga", "wrong") == (401, None)
    # The fourth failure locks the login, even against the right password, in both processes.
    for hub in (first, second):
        status, retry_after = await attempt(hub, "olga", "pw-olga")
        assert status == 429 and retry_after is not None and 590 < int(retry_after) <= 600
    # Another login from the same address is not locked.
    assert (await attempt(second, "petr", "pw-petr"))[0] == 200


async def test_many_logins_from_one_address_lock_the_address(
    start_hub: StartHub, world: World
) -> None:
    hub = await start_hub(login_max_failures_per_ip=2, login_lock_seconds=60)
    for login in ("ghost-1", "petr"):
        assert (await attempt(hub, login, "wrong"))[0] == 401
    status, retry_after = await attempt(hub, "olga", "pw-olga")
    assert status == 429 and retry_after is not None and int(retry_after) > 50


async def test_behind_a_proxy_each_client_address_has_its_own_lock(
    start_hub: StartHub, world: World
) -> None:
    hub = await start_hub(login_max_failures_per_ip=2, login_lock_seconds=60)
    for login in ("ghost-1", "ghost-2"):
        assert (await attempt(hub, login, "wrong", behind="203.0.113.9"))[0] == 401
    assert (await attempt(hub, "olga", "pw-olga", behind="203.0.113.9"))[0] == 429
    # The proxy's own address, and every other client behind it, can still sign in.
    assert (await attempt(hub, "olga", "pw-olga", behind="198.51.100.7"))[0] == 200
    # A client cannot borrow another's address by writing the header itself: the proxy
    # appends the address it saw, and that one is the client.
    assert (await attempt(hub, "olga", "pw-olga", behind="198.51.100.7, 203.0.113.9"))[0] == 429


async def test_with_no_trusted_proxy_the_header_is_not_believed(
    start_hub: StartHub, world: World
) -> None:
    hub = await start_hub(login_max_failures_per_ip=2, login_lock_seconds=60, trusted_proxies=[])
    for client in ("203.0.113.9", "198.51.100.7"):
        assert (await attempt(hub, "ghost", "wrong", behind=client))[0] == 401
    # Both failures were counted against the one real address.
    assert (await attempt(hub, "olga", "pw-olga", behind="192.0.2.1"))[0] == 429


async def test_an_unknown_login_takes_as_long_as_a_known_one(
    start_hub: StartHub, world: World
) -> None:
    hub = await start_hub(login_max_failures=1000, login_max_failures_per_ip=1000)
    known: list[float] = []
    unknown: list[float] = []
    for n in range(7):
        for login, times in (("olga", known), (f"nobody-{n}", unknown)):
            started = time.perf_counter()
            assert (await attempt(hub, login, "wrong"))[0] == 401
            times.append(time.perf_counter() - started)
    # Generous: a shared machine is noisy, but a skipped hash check is ~50 times faster.
    assert statistics.median(unknown) > 0.5 * statistics.median(known), (known, unknown)
