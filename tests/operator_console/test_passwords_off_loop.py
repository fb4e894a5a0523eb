"""Passwords are checked and hashed in ``auth.ARGON2``, off the event loop: a login or an
admin's new password waits there for a worker while the hub goes on serving everyone else."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Iterator
from typing import Any

import aiohttp

from operator_console.auth import ARGON2, ARGON2_WORKERS
from tests.support.console_world import World, logged_in

PASSWORD = "operator-password-1"


@contextlib.contextmanager
def pool_held() -> Iterator[threading.Event]:
    """Every worker of the pool busy until the event is set (at the latest on leaving)."""
    release = threading.Event()
    held = [ARGON2.submit(release.wait) for _ in range(ARGON2_WORKERS)]
    try:
        yield release
    finally:
        release.set()
        for job in held:
            job.result(timeout=10)


async def waits_for_the_pool(hub: str, call: Awaitable[Any]) -> Any:
    """Run ``call`` while the pool is held: it is still waiting after the hub has answered
    other requests, and ends once the pool is let go; its result."""
    with pool_held() as release:
        task = asyncio.ensure_future(call)
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                async with http.get(f"{hub}/healthz") as answer:
                    assert answer.status == 200
        await asyncio.sleep(0.3)
        assert not task.done(), "the password was handled on the event loop"
        release.set()
        return await asyncio.wait_for(task, 10)


async def login_status(hub: str, login: str, password: str) -> int:
    async with (
        aiohttp.ClientSession(headers={"Origin": hub}) as http,
        http.post(f"{hub}/api/login", json={"login": login, "password": password}) as answer,
    ):
        return answer.status


async def test_a_login_is_checked_off_the_loop(hub: str, world: World) -> None:
    assert await waits_for_the_pool(hub, login_status(hub, "olga", "pw-olga")) == 200


async def test_an_unknown_login_is_refused_off_the_loop(hub: str, world: World) -> None:
    assert await waits_for_the_pool(hub, login_status(hub, "nobody", "pw")) == 401


async def test_a_new_operators_password_is_hashed_off_the_loop(hub: str, world: World) -> None:
    admin = await logged_in(hub, "admin")
    try:
        body = {"login": "nina", "name": "Nina", "role": "operator", "password": PASSWORD}
        status, answer = await waits_for_the_pool(
            hub, admin.call("POST", "/api/admin/operators", body)
        )
        assert status == 201, answer
        assert await login_status(hub, "nina", PASSWORD) == 200
    finally:
        await admin.close()


async def test_a_changed_password_is_hashed_off_the_loop_and_replaces_the_old(
    hub: str, world: World
) -> None:
    admin = await logged_in(hub, "admin")
    try:
        path = f"/api/admin/operators/{world.ids['olga']}"
        status, answer = await waits_for_the_pool(
            hub, admin.call("PATCH", path, {"password": PASSWORD})
        )
        assert status == 200, answer
        assert await login_status(hub, "olga", PASSWORD) == 200
        assert await login_status(hub, "olga", "pw-olga") == 401
    finally:
        await admin.close()
