"""With Redis stopped, an operator's reply gets 503 with a reason and Retry-After, not a 500;
once Redis is back, the same reply sent once more is accepted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.redis_server import EmbeddedRedis
from tests.support.console_world import World, logged_in


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


async def test_a_reply_gets_503_with_retry_after_while_redis_is_down(
    hub: str, world: World, own_redis: EmbeddedRedis
) -> None:
    admin = await logged_in(hub, "admin")
    dialog = world.dialogs["olga"]
    path = f"{hub}/api/dialogs/{dialog}/messages"
    await own_redis.stop()
    try:
        async with admin.http.post(path, json={"text": "Ответ", "client_msg_id": "r1"}) as resp:
            assert resp.status == 503, await resp.text()
            assert resp.headers["Retry-After"].isdigit()
            body = await resp.json()
            assert body["error"] == "unavailable" and "Redis" in body["reason"]
    finally:
        await own_redis.start()
    # The console does what the 503 asks: it tries again, and the first try after the restart
    # is answered on its merits. Every pooled connection died with the server; a command that
    # meets one connects again rather than failing.
    status, body = await admin.call(
        "POST", f"/api/dialogs/{dialog}/messages", {"text": "Ответ", "client_msg_id": "r1"}
    )
    assert status in (202, 403), body
    await admin.close()
