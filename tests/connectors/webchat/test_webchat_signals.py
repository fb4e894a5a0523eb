"""The web chat's signals beside messages, through a whole hub: typing both ways (throttled,
never stored) and an operator's message marked delivered, then seen when the widget shows it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from config.settings import Settings
from core import streams
from core.bus_tail import FIELD
from core.envelope import DeliveryOutcome, DeliveryOutcomes, decode
from core.typing_signals import Throttle
from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient


@pytest.fixture
async def hub(redis_url: str, db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    settings = Settings(
        redis_url=redis_url,
        database_url=db_url,
        data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD,
        inbound_shards=2,
    )
    server = TestServer(build_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def admin(hub: str) -> AsyncIterator[OperatorClient]:
    client = OperatorClient(hub)
    await client.login("admin", ADMIN_PASSWORD)
    await client.wait_status("online")
    await client.open_socket()
    yield client
    await client.close()


async def open_dialog(admin: OperatorClient, visitor: VisitorClient) -> int:
    cid = await visitor.say("Is the kettle in stock?")
    await visitor.receive_until("message", client_msg_id=cid)
    dialog_id: int = (await admin.receive_until("message", author="client"))["message"]["dialog_id"]
    return dialog_id


async def test_visitor_typing_reaches_the_console_once_per_interval(
    admin: OperatorClient, visitor: VisitorClient
) -> None:
    dialog_id = await open_dialog(admin, visitor)
    for _ in range(3):
        await visitor.send_raw('{"type": "typing"}')
    frame = await admin.receive_until("typing")
    assert frame == {**frame, "dialog_id": dialog_id, "author": "visitor"}
    await asyncio.sleep(0.5)
    cid = await visitor.say("still there?")
    await admin.receive_until("message", client_msg_id=cid)
    assert [f["type"] for f in admin.frames].count("typing") == 1


async def test_operator_typing_reaches_the_widget(
    admin: OperatorClient, visitor: VisitorClient
) -> None:
    dialog_id = await open_dialog(admin, visitor)
    status, _ = await admin.call("POST", f"/api/dialogs/{dialog_id}/typing")
    assert status == 204
    frame = await visitor.receive_until("typing")
    assert frame["author_name"] == "Administrator"
    status, _ = await admin.call("POST", "/api/dialogs/999999/typing")
    assert status == 404


async def test_a_reply_is_delivered_then_seen_when_the_widget_shows_it(
    hub: str, admin: OperatorClient, visitor: VisitorClient
) -> None:
    dialog_id = await open_dialog(admin, visitor)
    status, body = await admin.call(
        "POST", f"/api/dialogs/{dialog_id}/messages", {"text": "Yes.", "client_msg_id": "r1"}
    )
    assert status == 202, body
    reply = await visitor.receive_until("message", author="operator")
    await admin.receive_until("delivery", id=reply["id"], delivery_status="delivered")

    # Another visitor cannot mark it seen.
    stranger = VisitorClient(hub)
    await stranger.connect()
    await stranger.send_raw(f'{{"type": "read", "up_to": {reply["id"]}}}')
    await stranger.send_raw('{"type": "ping"}')
    await stranger.receive_until("pong")
    await stranger.close()
    await asyncio.sleep(0.5)
    status, body = await admin.call("GET", f"/api/dialogs/{dialog_id}")
    assert [m.get("delivery_status") for m in body["messages"] if m["text"] == "Yes."] == [
        "delivered"
    ]

    await visitor.send_raw(f'{{"type": "read", "up_to": {reply["id"]}}}')
    await admin.receive_until("delivery", id=reply["id"], delivery_status="seen")
    status, body = await admin.call("GET", f"/api/dialogs/{dialog_id}")
    statuses: dict[str, Any] = {m["text"]: m.get("delivery_status") for m in body["messages"]}
    assert statuses["Yes."] == "seen"


async def test_answers_shown_together_are_each_reported_and_claimed_from_the_mail(
    redis_url: str, admin: OperatorClient, visitor: VisitorClient
) -> None:
    """Answers the delivery tail reads together are reported in one round trip: each is
    still marked delivered, and each is claimed as shown, so that none is mailed."""
    dialog_id = await open_dialog(admin, visitor)
    texts = [f"answer {n}" for n in range(6)]
    posted = await asyncio.gather(
        *(
            admin.call("POST", f"/api/dialogs/{dialog_id}/messages",
                       {"text": text, "client_msg_id": f"r{n}"})
            for n, text in enumerate(texts)
        )
    )  # fmt: skip
    assert [status for status, _ in posted] == [202] * len(texts)
    shown = [await visitor.receive_until("message", author="operator") for _ in texts]
    assert sorted(frame["text"] for frame in shown) == texts
    await admin.receive_each(
        "delivery", *({"id": f["id"], "delivery_status": "delivered"} for f in shown)
    )
    redis = Redis.from_url(redis_url)
    try:
        claims = [await redis.get(f"webchat:answer:{frame['id']}") for frame in shown]
        kept_s = [await redis.ttl(f"webchat:answer:{frame['id']}") for frame in shown]
        entries: Any = await redis.xrange(streams.COMMANDS)
        commands = [decode(fields[FIELD.encode()]) for _id, fields in entries]
    finally:
        await redis.aclose()
    assert claims == [b"shown"] * len(texts)
    # A claim outlives any lag between the processes' tails, and no more than a day.
    assert all(3600 < seconds <= 86400 for seconds in kept_s), kept_s
    # The reports went in gathered entries, not one entry per answer.
    reported = [
        (outcome.message_id, outcome.status)
        for entry in commands
        if isinstance(entry, DeliveryOutcomes)
        for outcome in entry.outcomes
    ]
    assert sorted(reported) == sorted((frame["id"], "delivered") for frame in shown)
    assert not [entry for entry in commands if isinstance(entry, DeliveryOutcome)]


def test_the_throttle_lets_one_signal_through_per_interval() -> None:
    throttle = Throttle(interval_s=2.0)
    assert throttle.allow("a", 10.0)
    assert not throttle.allow("a", 11.9)
    assert throttle.allow("b", 11.9)
    assert throttle.allow("a", 12.0)
    throttle.forget("a")
    assert throttle.allow("a", 12.1)
