"""Event webhooks against a local receiver that checks signatures, and the realtime API:
a visitor's first message reaches both, a receiver's 500s are retried with backoff, the
delivery log shows the tries and the last answer, and no secret reaches the logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from config.settings import Settings
from core import streams
from core.bus_tail import FIELD
from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.console_world import logged_in
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.integration_peer import WebhookPeer

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]

RETRY_S = 0.2


@pytest.fixture
def settings(redis_url: str, db_url: str, tmp_path: Path) -> Settings:
    """The hub of tests/conftest.py with short webhook retries."""
    return Settings(
        redis_url=redis_url,
        database_url=db_url,
        data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD,
        inbound_shards=2,
        claim_idle_ms=500,
        event_webhook_retry_s=RETRY_S,
    )


@pytest.fixture
async def peer() -> AsyncIterator[WebhookPeer]:
    """A receiver that fails the first two tries of every event."""
    receiver = WebhookPeer(fail_first=2)
    await receiver.server.start_server()
    try:
        yield receiver
    finally:
        await receiver.server.close()


async def _subscribe(admin: OperatorClient, peer: WebhookPeer, events: list[str]) -> int:
    status, body = await admin.call(
        "POST", "/api/admin/webhooks", {"name": "peer", "url": peer.url, "events": events}
    )
    assert status == 201, body
    peer.secret = body["secret"]
    hook_id: int = body["webhook"]["id"]
    return hook_id


async def _deliveries(admin: OperatorClient, hook_id: int) -> list[dict[str, Any]]:
    status, body = await admin.call("GET", f"/api/admin/webhooks/{hook_id}/deliveries")
    assert status == 200, body
    rows: list[dict[str, Any]] = body["deliveries"]
    return rows


async def test_events_reach_a_webhook_signed_and_retried_after_500s(
    hub: str, peer: WebhookPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    admin = await logged_in(hub, "admin")
    hook_id = await _subscribe(admin, peer, ["dialog.opened", "message.created"])
    visitor = VisitorClient(hub)
    try:
        await visitor.connect()
        await visitor.say("Where is my parcel?")
        message = await peer.wait_for("message.created")
        opened = await peer.wait_for("dialog.opened")
    finally:
        await visitor.close()
        await admin.close()
    assert message["data"]["text"] == "Where is my parcel?"
    assert message["data"]["author"] == "client"
    assert message["version"] == 1
    assert opened["data"]["dialog_id"] == message["data"]["dialog_id"]
    assert peer.bad_signatures == 0
    # Two 500s, then the third try got through; the waits grew (0.2 s, then 0.6 s).
    assert peer.tries[message["id"]] == 3
    first, second, third = peer.tried_at[message["id"]]
    assert second - first >= RETRY_S * 0.9
    assert third - second >= RETRY_S * 3 * 0.9
    admin = await logged_in(hub, "admin")
    try:
        rows = {r["event_id"]: r for r in await _deliveries(admin, hook_id)}
        _, listed = await admin.call("GET", "/api/admin/webhooks")
    finally:
        await admin.close()
    logged = rows[message["id"]]
    assert (logged["status"], logged["attempts"], logged["response_status"]) == (
        "delivered",
        3,
        200,
    )
    assert logged["response_body"] == "thanks"
    assert "secret" not in json.dumps(listed)
    assert peer.secret not in caplog.text


async def test_no_event_is_read_while_no_webhook_is_active(
    hub: str, redis_url: str, peer: WebhookPeer
) -> None:
    """With no webhook the fan-out leaves the stream alone; once one is saved it reads on and
    delivers what came after (and may deliver what came in the seconds before: not asserted)."""
    peer.fail_first = 0
    redis = aioredis.from_url(redis_url, decode_responses=True)
    admin = await logged_in(hub, "admin")
    visitor = VisitorClient(hub)
    try:
        await visitor.connect()
        await visitor.say("Before any webhook")
        async with asyncio.timeout(15):
            while not (newest := await _event_saying(redis, "Before any webhook")):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # ample for a reader of the group to take the entry
        assert await _group_position(redis) < _entry_order(newest)
        await _subscribe(admin, peer, ["message.created"])
        await visitor.say("After the webhook")
        async with asyncio.timeout(15):
            while "After the webhook" not in _texts(peer):
                await asyncio.sleep(0.05)
        assert await _group_position(redis) >= _entry_order(newest)
    finally:
        await visitor.close()
        await admin.close()
        await redis.aclose()


def _texts(peer: WebhookPeer) -> list[str]:
    return [e["data"]["text"] for e in peer.accepted.values() if e["type"] == "message.created"]


async def _event_saying(redis: aioredis.Redis, text: str) -> str | None:
    """The id of the newest ``events`` entry, once one carries ``text``."""
    entries: Any = await redis.xrevrange(streams.EVENTS, count=20)
    if any(text in fields[FIELD] for _id, fields in entries):
        return str(entries[0][0])
    return None


async def _group_position(redis: aioredis.Redis) -> tuple[int, int]:
    groups = await redis.xinfo_groups(streams.EVENTS)
    (webhooks,) = [g for g in groups if g["name"] == streams.WEBHOOKS_GROUP]
    return _entry_order(webhooks["last-delivered-id"])


def _entry_order(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


async def _first_delivery(hub: str, receiver: WebhookPeer) -> dict[str, Any]:
    """The delivery log's row of a visitor's first message, ``client.created``, to
    ``receiver``, once it is no longer pending; the webhook is deleted after, with its log."""
    await receiver.server.start_server()
    admin = await logged_in(hub, "admin")
    visitor = VisitorClient(hub)
    try:
        status, body = await admin.call(
            "POST",
            "/api/admin/webhooks",
            {"name": "receiver", "url": receiver.url, "events": ["client.created"]},
        )
        assert status == 201, body
        receiver.secret = receiver.secret or body["secret"]
        await visitor.connect()
        await visitor.say("hello")
        async with asyncio.timeout(15):
            while not (rows := await _deliveries(admin, body["webhook"]["id"])) or (
                rows[0]["status"] == "pending"
            ):
                await asyncio.sleep(0.05)
        hook = f"/api/admin/webhooks/{body['webhook']['id']}"
        assert (await admin.call("DELETE", hook))[0] == 204
        assert (await admin.call("GET", f"{hook}/deliveries"))[0] == 404
    finally:
        await visitor.close()
        await admin.close()
        await receiver.server.close()
    return rows[0]


async def test_a_receiver_that_refuses_is_not_retried_and_the_log_says_why(hub: str) -> None:
    receiver = WebhookPeer()
    receiver.secret = "not-the-hub-secret"  # every signature the hub makes fails here
    row = await _first_delivery(hub, receiver)
    assert (row["event"], row["status"], row["attempts"]) == ("client.created", "failed", 1)
    assert (row["response_status"], row["response_body"]) == (401, "bad signature")
    assert receiver.bad_signatures == 1


async def test_a_flood_of_an_answer_is_kept_in_part_and_never_read_whole(hub: str) -> None:
    receiver = WebhookPeer(flood_bytes=256 * 1024 * 1024)
    row = await _first_delivery(hub, receiver)
    assert (row["status"], row["response_status"]) == ("delivered", 200)
    assert row["response_body"] == "x" * 1000
    # The hub stopped reading at what it keeps; the receiver's writes then failed.
    assert receiver.flooded < 64 * 1024 * 1024


async def test_the_realtime_api_pushes_events_to_a_token_and_resumes(hub: str) -> None:
    admin = await logged_in(hub, "admin")
    try:
        _, made = await admin.call(
            "POST", "/api/admin/tokens", {"name": "bot", "scopes": ["dialogs:read"]}
        )
        _, stats_only = await admin.call(
            "POST", "/api/admin/tokens", {"name": "bi", "scopes": ["stats:read"]}
        )
    finally:
        await admin.close()
    ws_url = hub.replace("http", "ws", 1) + "/api/integrations/events"
    auth = {"Authorization": f"Bearer {made['value']}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(ws_url + "?events=client.merged", headers=auth) as refused:
            assert refused.status == 403  # a client event needs clients:manage
        no_dialogs = {"Authorization": f"Bearer {stats_only['value']}"}
        async with http.get(ws_url + "?events=message.created", headers=no_dialogs) as refused:
            assert refused.status == 403
        async with http.ws_connect(ws_url + "?events=message.created", headers=auth) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "ready"
            visitor = VisitorClient(hub)
            try:
                await visitor.connect()
                await visitor.say("first")
                first = await ws.receive_json(timeout=10)
                await visitor.say("second")
                second = await ws.receive_json(timeout=10)
            finally:
                await visitor.close()
        assert (first["type"], first["data"]["text"]) == ("message.created", "first")
        assert second["data"]["text"] == "second"
        resume = f"{ws_url}?events=message.created&after={first['stream_id']}"
        async with http.ws_connect(resume, headers=auth) as ws:
            await ws.receive_json(timeout=5)
            again = await ws.receive_json(timeout=10)
        assert again["id"] == second["id"]


async def _frames_within(client: OperatorClient, seconds: float) -> list[dict[str, Any]]:
    """Every frame ``client`` receives in the next ``seconds``."""
    frames: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                frames.append(await client.receive(timeout=seconds))
    return frames


async def test_each_try_reaches_the_admins_open_consoles_as_it_happens(
    hub: str, peer: WebhookPeer
) -> None:
    """The delivery log is live: every change of a delivery (logged, each failed try with its
    answer, the success) is a socket frame to the admins, and to no one else."""
    admin = await logged_in(hub, "admin")
    status, _ = await admin.call(
        "POST",
        "/api/admin/operators",
        {"login": "manager", "name": "Olga", "role": "manager", "password": "pw-manager"},
    )
    assert status == 201
    olga = await logged_in(hub, "manager")
    hook_id = await _subscribe(admin, peer, ["message.created"])
    await admin.open_socket()
    await olga.open_socket()
    visitor = VisitorClient(hub)
    seen: list[dict[str, Any]] = []
    try:
        await visitor.connect()
        await visitor.say("Is it live?")
        while not seen or seen[-1]["status"] != "delivered":
            frame = await admin.receive_until("webhook_delivery", timeout=20)
            assert frame["webhook_id"] == hook_id
            seen.append(frame["delivery"])
        olga_frames = await _frames_within(olga, 1.0)
    finally:
        await visitor.close()
    try:
        listed = await _deliveries(admin, hook_id)
    finally:
        await admin.close()
        await olga.close()
    assert [(r["status"], r["attempts"], r["response_status"]) for r in seen] == [
        ("pending", 0, None),
        ("pending", 1, 500),
        ("pending", 2, 500),
        ("delivered", 3, 200),
    ]
    assert seen[-1] == listed[0]  # the frame is the log's line as the list gives it
    assert not [f for f in olga_frames if f["type"] == "webhook_delivery"]
