"""An operator socket that reconnects with the last ``stream_id`` it saw gets the events it
missed meanwhile, in order and once, before the live ones: from the stream while it holds them,
else from the database."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio

from tests.support.console_world import logged_in
from tests.support.hubclient import OperatorClient, VisitorClient


async def _position(operator: OperatorClient, frame: dict[str, Any]) -> str:
    """Where ``frame``'s event is in the stream, as the console learns it: from the frame, or,
    for an event the hub's own router handed over at its commit, from the ``resume`` frame
    that follows once the stream's copy is read."""
    if "stream_id" in frame:
        return str(frame["stream_id"])
    return str((await operator.receive_until("resume"))["stream_id"])


async def test_a_reconnecting_socket_gets_what_it_missed(hub: str) -> None:
    admin = await logged_in(hub, "admin")
    await admin.wait_status("online")
    await admin.open_socket()
    watcher = await logged_in(hub, "admin")
    await watcher.open_socket()
    visitor = VisitorClient(hub)
    await visitor.connect()
    await visitor.say("первое")
    first = await admin.receive_until("message", text="первое")
    last_seen = await _position(admin, first)
    assert admin.ws is not None
    await admin.ws.close()

    await visitor.say("второе")
    await visitor.say("третье")
    await watcher.receive_until("message", text="третье")  # the hub has dispatched both

    url = f"{hub.replace('http', 'ws', 1)}/api/ws?after={last_seen}"
    async with admin.http.ws_connect(url) as ws:
        hello = json.loads((await ws.receive(timeout=10)).data)
        assert hello["type"] == "hello" and hello["resumed"] is True
        texts: list[str] = []
        while "третье" not in texts:
            frame = json.loads((await ws.receive(timeout=10)).data)
            if frame["type"] == "message":
                texts.append(frame["message"]["text"])
        assert texts == ["второе", "третье"]
        await visitor.say("четвёртое")
        while texts[-1] != "четвёртое":
            frame = json.loads((await ws.receive(timeout=10)).data)
            if frame["type"] == "message":
                texts.append(frame["message"]["text"])
        assert texts == ["второе", "третье", "четвёртое"]

    async with admin.http.ws_connect(f"{hub.replace('http', 'ws', 1)}/api/ws?after=1-x") as ws:
        hello = json.loads((await ws.receive(timeout=10)).data)
        assert hello["type"] == "hello" and hello["resumed"] is False
    await visitor.close()
    await watcher.close()
    await admin.close()


async def test_a_socket_whose_events_were_trimmed_gets_them_from_the_database(
    hub: str, redis_url: str
) -> None:
    admin = await logged_in(hub, "admin")
    await admin.wait_status("online")
    await admin.open_socket()
    watcher = await logged_in(hub, "admin")
    await watcher.open_socket()
    visitor = VisitorClient(hub)
    await visitor.connect()
    await visitor.say("первое")
    first = await admin.receive_until("message", text="первое")
    last_seen = await _position(admin, first)
    assert admin.ws is not None
    await admin.ws.close()

    await visitor.say("второе")
    await visitor.say("третье")
    await watcher.receive_until("message", text="третье")
    # The stream no longer holds what the socket missed, as after trimming or a Redis that
    # came back without its data.
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        await client.xtrim("events", maxlen=0, approximate=False)

    url = f"{hub.replace('http', 'ws', 1)}/api/ws?after={last_seen}"
    async with admin.http.ws_connect(url) as ws:
        hello = json.loads((await ws.receive(timeout=10)).data)
        assert hello["type"] == "hello" and hello["resumed"] is True
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1].get("message", {}).get("text") != "третье":
            frames.append(json.loads((await ws.receive(timeout=10)).data))
        texts = [f["message"]["text"] for f in frames if f["type"] == "message"]
        # What the socket had already may come again (the console keeps a message id once);
        # what it missed comes in order, each message once.
        assert texts[-2:] == ["второе", "третье"]
        ids = [f["message"]["id"] for f in frames if f["type"] == "message"]
        assert len(ids) == len(set(ids))
        dialog_frames = [f for f in frames if f["type"] == "dialog"]
        assert dialog_frames and dialog_frames[0]["dialog"]["id"] == first["message"]["dialog_id"]
        await visitor.say("четвёртое")
        while True:
            frame = json.loads((await ws.receive(timeout=10)).data)
            if frame["type"] == "message":
                assert frame["message"]["id"] not in ids
                if frame["message"]["text"] == "четвёртое":
                    break
    await visitor.close()
    await watcher.close()
    await admin.close()


async def test_an_event_the_stream_holds_twice_reaches_a_resumed_socket_once(
    hub: str, redis_url: str
) -> None:
    admin = await logged_in(hub, "admin")
    await admin.wait_status("online")
    await admin.open_socket()
    watcher = await logged_in(hub, "admin")
    await watcher.open_socket()
    visitor = VisitorClient(hub)
    await visitor.connect()
    await visitor.say("первое")
    first = await admin.receive_until("message", text="первое")
    last_seen = await _position(admin, first)
    assert admin.ws is not None
    await admin.ws.close()
    await visitor.say("второе")
    await watcher.receive_until("message", text="второе")
    # As a batch handled again after a fault announces its message again.
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        entries: Any = await client.xrange("events")
        for _id, fields in entries:
            if "второе" in fields[b"data"].decode():
                await client.xadd("events", fields)
    await visitor.say("третье")
    await watcher.receive_until("message", text="третье")

    url = f"{hub.replace('http', 'ws', 1)}/api/ws?after={last_seen}"
    async with admin.http.ws_connect(url) as ws:
        texts: list[str] = []
        while "третье" not in texts:
            frame = json.loads((await ws.receive(timeout=10)).data)
            if frame["type"] == "message":
                texts.append(frame["message"]["text"])
        assert texts == ["второе", "третье"]
    await visitor.close()
    await watcher.close()
    await admin.close()
