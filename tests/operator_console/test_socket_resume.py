"""An operator socket that reconnects with the last ``stream_id`` it saw gets the events it
missed meanwhile, in order and once, before the live ones."""

from __future__ import annotations

import json

from tests.support.console_world import logged_in
from tests.support.hubclient import VisitorClient


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
    last_seen = first["stream_id"]
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
