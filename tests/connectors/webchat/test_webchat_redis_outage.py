"""A restart of Redis (a real redis-server with AOF) under an open web chat: the visitor's
socket stays open, a message sent while Redis is away is refused with ``unavailable`` and
accepted when sent again, and once Redis is back both live paths carry on where they were:
the visitor's message reaches the operator's socket, the reply reaches the visitor, each once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from core.redis_server import EmbeddedRedis
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    """A redis-server with AOF that this test may stop and start again."""
    server = EmbeddedRedis(tmp_path / "redis")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def redis_url(own_redis: EmbeddedRedis) -> str:
    return own_redis.url


async def frames_for(visitor: VisitorClient, seconds: float) -> list[dict[str, object]]:
    """Every frame the visitor gets within ``seconds``."""
    assert visitor.ws is not None
    out = []
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while (left := until - loop.time()) > 0:
        try:
            msg = await visitor.ws.receive(timeout=left)
        except TimeoutError:
            break
        assert msg.type == aiohttp.WSMsgType.TEXT, f"socket closed: {msg}"
        out.append(msg.json())
    return out


@pytest.mark.servers
async def test_a_web_chat_carries_on_across_a_redis_restart(
    hub: str, own_redis: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.wait_status("online")
    await admin.open_socket()
    visitor = VisitorClient(hub)
    try:
        await visitor.connect()
        await visitor.say("Добрый день", "c1")
        dialog_id = (await admin.receive_until("message", text="Добрый день"))["message"][
            "dialog_id"
        ]
        with caplog.at_level(logging.INFO):
            await own_redis.stop()
            await visitor.say("Вы тут?", "c2")
            refused = await visitor.receive_until("error")
            assert refused["code"] == "unavailable" and refused["client_msg_id"] == "c2"
            await own_redis.start()
            await visitor.say("Вы тут?", "c2")  # as the widget's outbox does
            await visitor.receive_until("accepted", client_msg_id="c2")
            await admin.receive_until("message", text="Вы тут?")
            path = f"/api/dialogs/{dialog_id}/messages"
            async with asyncio.timeout(15):
                while (await admin.call("POST", path, {"text": "Да", "client_msg_id": "r1"}))[
                    0
                ] != 202:
                    await asyncio.sleep(0.2)
            frames = await frames_for(visitor, 3.0)
        replies = [f for f in frames if f["type"] == "message" and f["author"] == "operator"]
        assert [f["text"] for f in replies] == ["Да"]
        assert not [
            r for r in caplog.records
            if r.exc_info and r.name.startswith(("connectors", "aiohttp", "operator_console"))
        ]  # fmt: skip
    finally:
        await visitor.close()
        await admin.close()
