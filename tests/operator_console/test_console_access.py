"""Every console endpoint checks the session and what the caller may see; /healthz tells the
truth about Redis and the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.schema import LineOperator, Operator
from operator_console.app import build_app
from operator_console.auth import hash_password
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.servers import RedisServer

ENDPOINTS = [
    ("POST", "/api/logout"),
    ("GET", "/api/me"),
    ("POST", "/api/presence"),
    ("GET", "/api/dialogs"),
    ("GET", "/api/dialogs/1"),
    ("POST", "/api/dialogs/1/messages"),
    ("POST", "/api/dialogs/1/close"),
    ("GET", "/api/ws"),
]


async def add_operator(settings: Settings, login: str, on_line: bool) -> None:
    engine = make_engine(settings.effective_database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        operator = Operator(
            login=login,
            name=login.title(),
            role="operator",
            password_hash=hash_password("pw-" + login),
        )
        session.add(operator)
        await session.flush()
        if on_line:
            session.add(LineOperator(line_id=1, operator_id=operator.id, position=5))
    await engine.dispose()


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_every_endpoint_needs_a_session(hub: str, method: str, path: str) -> None:
    async with aiohttp.ClientSession() as http, http.request(method, hub + path, json={}) as resp:
        assert resp.status == 401
        assert await resp.json() == {"error": "not logged in"}


async def test_login_refuses_wrong_passwords_and_names_bad_fields(hub: str) -> None:
    async with aiohttp.ClientSession(headers={"Origin": hub}) as http:
        async with http.post(f"{hub}/api/login", json={"login": "admin", "password": "no"}) as r:
            assert r.status == 401 and await r.json() == {"error": "wrong login or password"}
        async with http.post(f"{hub}/api/login", json={"login": "admin"}) as r:
            assert r.status == 400
            assert (await r.json())["error"].startswith("password:")
        async with http.post(
            f"{hub}/api/login", data=b"{oops", headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 400
        # A forged cookie is no session.
        http.cookie_jar.update_cookies({"openlines_session": "forged"})
        async with http.get(f"{hub}/api/me") as r:
            assert r.status == 401


async def test_an_operator_sees_only_their_own_dialogs(hub: str, settings: Settings) -> None:
    await add_operator(settings, "olga", on_line=False)
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.wait_status("online")
    await admin.open_socket()
    visitor = VisitorClient(hub)
    await visitor.connect()
    cid = await visitor.say("for the admin only")
    await visitor.receive_until("message", client_msg_id=cid)
    dialog = (await admin.receive_until("dialog"))["dialog"]

    olga = OperatorClient(hub)
    await olga.login("olga", "pw-olga")
    assert await olga.call("GET", "/api/dialogs") == (200, {"dialogs": []})
    status, body = await olga.call("GET", f"/api/dialogs/{dialog['id']}")
    assert (status, body) == (404, {"error": "no such dialog"})
    status, _ = await olga.call(
        "POST", f"/api/dialogs/{dialog['id']}/messages", {"text": "sneaky", "client_msg_id": "s1"}
    )
    assert status == 404
    status, _ = await olga.call("POST", f"/api/dialogs/{dialog['id']}/close")
    assert status == 404
    status, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
    assert [m["text"] for m in body["messages"]] == ["for the admin only"]
    for client in (admin, olga, visitor):
        await client.close()


async def test_reply_body_is_validated(hub: str) -> None:
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    status, body = await admin.call(
        "POST", "/api/dialogs/1/messages", {"text": "x" * 20_001, "client_msg_id": "a"}
    )
    assert status == 400 and body["error"].startswith("text:")
    status, body = await admin.call(
        "POST", "/api/dialogs/1/messages", {"text": "ok", "client_msg_id": "bad id!"}
    )
    assert status == 400 and body["error"].startswith("client_msg_id:")
    status, body = await admin.call("GET", "/api/dialogs?status=everything")
    assert status == 400
    await admin.close()


@pytest.fixture
async def fragile_hub(tmp_path: Path) -> AsyncIterator[tuple[str, RedisServer]]:
    """A hub on a Redis server of its own, which the test may stop."""
    redis = RedisServer("7").start()
    settings = Settings(
        redis_url=redis.url, data_dir=tmp_path / "var", admin_password=ADMIN_PASSWORD
    )
    server = TestServer(build_app(settings, role="console"), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), redis
    await server.close()
    redis.stop()


@pytest.mark.servers  # starts a Redis of its own, to stop it
async def test_healthz_answers_503_with_the_reason_when_redis_is_down(
    fragile_hub: tuple[str, RedisServer],
) -> None:
    base, redis = fragile_hub
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200 and await resp.json() == {"status": "ok"}
        redis.stop()
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 503
            body = await resp.json()
            assert body["status"] == "unavailable"
            assert [p.split(":")[0] for p in body["problems"]] == ["redis"]
