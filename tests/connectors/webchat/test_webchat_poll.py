"""The web chat over long polls, where a network refuses websockets: the same conversation as
over the socket, refusals that say what is wrong, and a link that ends when its page goes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio

from connectors.webchat import polling
from connectors.webchat.presence import live_key
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.hubclient import OperatorClient, admin_on_socket
from tests.support.poll_client import PollVisitor

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]


@pytest.fixture
async def admin(hub: str) -> AsyncIterator[OperatorClient]:
    async with admin_on_socket(hub) as client:
        yield client


@pytest.fixture
async def visitor(hub: str) -> AsyncIterator[PollVisitor]:
    client = PollVisitor(hub)
    yield client
    await client.http.close()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    connection = redis.asyncio.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


async def test_a_visitor_chats_over_long_polls(
    admin: OperatorClient, visitor: PollVisitor, hub: str
) -> None:
    welcome = await visitor.connect()
    assert welcome["type"] == "welcome" and welcome["history"] == []
    cid = await visitor.say("Is the blue kettle in stock?")
    assert (await visitor.receive_until("accepted"))["client_msg_id"] == cid
    echo = await visitor.receive_until("message", client_msg_id=cid)
    assert echo["author"] == "visitor"

    dialog = (await admin.receive_until("dialog"))["dialog"]
    message = (await admin.receive_until("message"))["message"]
    assert message["text"] == "Is the blue kettle in stock?"
    status, body = await admin.call("POST", f"/api/dialogs/{dialog['id']}/messages",
                                    {"text": "Yes, two left.", "client_msg_id": "r1"})  # fmt: skip
    assert status == 202, body
    # The poll waiting meanwhile answers as soon as the reply is pushed.
    reply = await visitor.receive_until("message", author="operator")
    assert reply["text"] == "Yes, two left."
    # Reported shown in the widget, as over a socket: the operator sees it delivered.
    for _ in range(50):
        _, shown = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
        if shown["messages"][-1]["delivery_status"] == "delivered":
            break
        await asyncio.sleep(0.1)
    assert shown["messages"][-1]["delivery_status"] == "delivered"

    # A poll asked again with the same ``after`` (its answer lost) gets the same frames.
    await visitor.send({"type": "ping"})
    before = visitor.after
    first = await visitor.poll()
    again = await visitor.poll()
    assert first == again and first[0] == 200 and '"type":"pong"' in first[1]
    assert json.loads(first[1].split("\n")[0])["last"] == before + 1

    # The page comes back on a new link and reads back what it missed.
    await visitor.close()
    back = PollVisitor(hub)
    back.token = visitor.token
    try:
        welcome = await back.connect(after=echo["id"])
        assert [m["text"] for m in welcome["history"]] == ["Yes, two left."]
    finally:
        await back.close()


async def test_refusals_say_what_is_wrong(visitor: PollVisitor, hub: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{hub}/widget/poll?channel=nope") as resp:
            assert resp.status == 404 and "no web chat with key 'nope'" in await resp.text()
        async with http.get(f"{hub}/widget/poll/not-a-link") as resp:
            assert resp.status == 404 and "open a new one" in await resp.text()
        async with http.post(f"{hub}/widget/poll/not-a-link", data=b"{}") as resp:
            assert resp.status == 404

    await visitor.connect()
    async with visitor.http.get(f"{visitor.url}?after=-1") as resp:
        assert resp.status == 400 and "after:" in await resp.text()
    async with visitor.http.post(visitor.url, data=b"\xff\xfe") as resp:
        assert resp.status == 400 and "not UTF-8" in await resp.text()
    huge = json.dumps({"type": "message", "client_msg_id": "h", "text": "x" * 70_000})
    assert await visitor.send({"type": "ping"}, huge) == 413
    async with visitor.http.post(visitor.url, data=b"x" * (polling.MAX_POST_BYTES + 1)) as resp:
        assert resp.status == 413 and "frames: over 256 KB" in await resp.text()
    # None of a refused request's frames was taken (no pong for its ping); a frame the chat
    # refuses is answered on the link, which goes on.
    assert await visitor.send("{not json", {"type": "ping"}) == 202
    assert (await visitor.receive())["code"] == "bad_json"
    assert (await visitor.receive())["type"] == "pong"
    async with visitor.http.post(f"{visitor.url}/close") as resp:
        assert resp.status == 204
    async with visitor.http.get(visitor.url) as resp:
        assert resp.status == 404  # a closed link is gone


@pytest.fixture
def quick_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links idle out in half a second, looked for every fifth (before the hub starts)."""
    monkeypatch.setattr(polling, "IDLE_S", 0.5)
    monkeypatch.setattr(polling, "SWEEP_S", 0.2)
    monkeypatch.setattr(polling, "WAIT_S", 0.3)


async def test_a_link_nobody_polls_closes_and_its_visitor_leaves(
    quick_links: None, visitor: PollVisitor, client: redis.asyncio.Redis
) -> None:
    welcome = await visitor.connect()
    key = live_key((1, welcome["visitor_id"]))
    assert await client.exists(key)
    await asyncio.sleep(0.2)  # a poll now and then keeps the link
    await visitor.send({"type": "ping"})
    assert (await visitor.receive())["type"] == "pong"
    for _ in range(40):
        if not await client.exists(key):
            break
        await asyncio.sleep(0.1)
    assert not await client.exists(key)
    status, body = await visitor.poll()
    assert (status, json.loads(body.split("\n")[0])["closed"]["reason"]) == (200, "no poll")
    assert (await visitor.poll())[0] == 404  # the closing was read: the link is gone
