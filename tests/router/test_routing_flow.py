"""Open-line routing end to end: the whole hub, real Redis and database, through the bus.

Timers are made due at once instead of waiting out a line's offer time: the test moves the
armed timer's due time to the past, which is what the clock reaching it looks like.
"""

from __future__ import annotations

import json

import redis.asyncio
from sqlalchemy import select

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.schema import Dialog
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import VisitorClient
from tests.support.routing_world import configure, dialog_where, fire_now, operator


async def test_sequence_offer_times_out_to_the_next_operator_who_takes_it(
    hub: str, settings: Settings, redis_url: str, visitor: VisitorClient
) -> None:
    ids = await configure(settings, "sequence", [("alice", None), ("bob", None)], offer_seconds=60)
    alice, bob = await operator(hub, "alice"), await operator(hub, "bob")
    try:
        await visitor.say("Hello?")
        offered = await dialog_where(alice, offered_to=[ids["alice"]])
        assert offered["status"] == "waiting"
        await fire_now(redis_url, f"offer:{offered['id']}")
        await dialog_where(bob, offered_to=[ids["bob"]])
        # Alice's offer is gone: her take is refused, and she is told why; Bob's goes through.
        status, body = await alice.call("POST", f"/api/dialogs/{offered['id']}/take")
        assert (status, body) == (409, {"error": "it is offered to another operator"})
        status, _ = await bob.call("POST", f"/api/dialogs/{offered['id']}/take")
        assert status == 202
        taken = await dialog_where(bob, status="open")
        assert taken["operator_id"] == ids["bob"] and taken["offered_to"] == []
        status, body = await bob.call("GET", f"/api/dialogs/{offered['id']}/audit")
        events = [(r["event"], r["operator_id"]) for r in body["audit"]]
        assert events == [
            ("offer", ids["alice"]),
            ("timeout", ids["alice"]),
            ("offer", ids["bob"]),
            ("take", ids["bob"]),
        ]
        first = body["audit"][0]
        assert first["mode"] == "sequence" and {c["operator_id"] for c in first["candidates"]} == {
            ids["alice"],
            ids["bob"],
        }
    finally:
        await alice.close()
        await bob.close()


async def test_capacity_queues_a_dialog_until_the_operator_frees_up(
    hub: str, settings: Settings
) -> None:
    ids = await configure(settings, "evenly", [("carol", 1)])
    carol = await operator(hub, "carol")
    first, second = VisitorClient(hub), VisitorClient(hub)
    try:
        await first.connect()
        await second.connect()
        await first.say("one")
        mine = await dialog_where(carol, status="open")
        await second.say("two")
        waiting = await dialog_where(carol, status="waiting")
        _status, body = await carol.call("GET", f"/api/dialogs/{waiting['id']}/audit")
        (record,) = body["audit"]
        assert record["event"] == "wait" and record["candidates"] == [
            {"operator_id": ids["carol"], "passed_over": "at_capacity_line"}
        ]
        # Away, she may still take dialogs by hand, but not past her limit on the line.
        await carol.call("POST", "/api/presence", {"status": "away"})
        status, body = await carol.call("POST", f"/api/dialogs/{waiting['id']}/take")
        assert status == 409 and "as many open dialogs on this line" in body["error"]
        await carol.call("POST", "/api/presence", {"status": "online"})
        await carol.call("POST", f"/api/dialogs/{mine['id']}/close")
        freed = await dialog_where(carol, id=waiting["id"], status="open")
        assert freed["operator_id"] == ids["carol"]
    finally:
        await first.close()
        await second.close()
        await carol.close()


async def test_going_offline_hands_an_offer_on(
    hub: str, settings: Settings, visitor: VisitorClient
) -> None:
    ids = await configure(settings, "sequence", [("dave", None), ("erin", None)])
    dave, erin = await operator(hub, "dave"), await operator(hub, "erin")
    try:
        await visitor.say("hi")
        offered = await dialog_where(erin, offered_to=[ids["dave"]])
        await dave.call("POST", "/api/presence", {"status": "offline"})
        moved = await dialog_where(erin, offered_to=[ids["erin"]])
        assert moved["id"] == offered["id"]
    finally:
        await dave.close()
        await erin.close()


async def test_hidden_notes_transfer_and_invite_never_reach_the_client(
    hub: str, settings: Settings, redis_url: str, visitor: VisitorClient
) -> None:
    ids = await configure(settings, "evenly", [("fay", None), ("gus", None)])
    fay, gus = await operator(hub, "fay"), await operator(hub, "gus")
    try:
        await visitor.say("my order is late")
        dialog = await dialog_where(fay, status="open")
        holder = fay if dialog["operator_id"] == ids["fay"] else gus
        other = gus if holder is fay else fay
        other_id = ids["gus"] if holder is fay else ids["fay"]
        path = f"/api/dialogs/{dialog['id']}"
        status, _ = await holder.call(
            "POST", f"{path}/notes", {"text": "SECRET: refund approved", "client_msg_id": "n1"}
        )
        assert status == 202
        note = (await holder.receive_until("message", client_msg_id="n1"))["message"]
        assert note["hidden"] is True
        status, _ = await holder.call("POST", f"{path}/invite", {"colleague_id": other_id})
        assert status == 202
        joined = await dialog_where(other, participants=[other_id])
        assert joined["id"] == dialog["id"]
        status, _ = await holder.call(
            "POST", f"{path}/transfer", {"to_operator_id": other_id, "comment": "SECRET: VIP"}
        )
        assert status == 202
        moved = await dialog_where(other, operator_id=other_id)
        assert moved["id"] == dialog["id"]
        status, body = await other.call("GET", path)
        texts = [m["text"] for m in body["messages"]]
        assert "my order is late" in texts and "SECRET: refund approved" in texts
        await other.call("POST", f"{path}/messages", {"text": "on its way", "client_msg_id": "r1"})
        reply = await visitor.receive_until("message", author="operator")
        assert reply["text"] == "on its way"
        # Nothing hidden ever went to the channel, and the visitor's history lacks it.
        client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        try:
            entries = await client.xrange("out.webchat")
        finally:
            await client.aclose()
        assert entries and not any("SECRET" in json.dumps(e) for e in entries)
        again = VisitorClient(hub)
        welcome = await again.connect(token=visitor.token)
        await again.close()
        assert not any("SECRET" in m["text"] for m in welcome["history"])
    finally:
        await fay.close()
        await gus.close()


async def test_greeting_close_rating_and_statistics(
    hub: str, settings: Settings, visitor: VisitorClient
) -> None:
    await configure(
        settings,
        "evenly",
        [("hal", None)],
        rating="stars",
        auto_replies={"greeting": "Hello from the shop!", "close": "Bye!"},
    )
    hal = await operator(hub, "hal")
    try:
        await visitor.say("question")
        greeting = await visitor.receive_until("message", author="system")
        assert greeting["text"] == "Hello from the shop!"
        dialog = await dialog_where(hal, status="open")
        await hal.call(
            "POST",
            f"/api/dialogs/{dialog['id']}/messages",
            {"text": "answer", "client_msg_id": "a1"},
        )
        await hal.call("POST", f"/api/dialogs/{dialog['id']}/close")
        # The web chat asks with its own stars: the closing text has no "reply with a number".
        frames: dict[str, dict[str, object]] = {}
        while len(frames) < 2:
            frame = await visitor.receive()
            if frame["type"] == "closed" or frame.get("author") == "system":
                frames[frame["type"]] = frame
        assert frames["message"]["text"] == "Bye!"
        assert frames["closed"]["rating"] == "stars"
        await visitor.say("5")  # a visitor who types the number rates all the same
        rated = await dialog_where(hal, id=dialog["id"], rating=5)
        assert rated["outcome"] == "answered" and rated["began_in_hours"] is True
        engine = make_engine(settings.effective_database_url)
        try:
            async with make_sessionmaker(engine)() as s:
                rows = (await s.scalars(select(Dialog))).all()
        finally:
            await engine.dispose()
        (row,) = rows  # the rating did not open a new dialog
        assert (row.client_messages, row.operator_messages) == (1, 1)
        assert row.first_response_at is not None and row.closed_by == "operator"
    finally:
        await hal.close()


async def test_a_supervisor_joins_and_takes_over(
    hub: str, settings: Settings, visitor: VisitorClient
) -> None:
    ids = await configure(settings, "evenly", [("ivy", None)])
    ivy = await operator(hub, "ivy")
    admin = await operator(hub, "admin", ADMIN_PASSWORD)
    try:
        await visitor.say("help")
        dialog = await dialog_where(ivy, status="open")
        _status, me = await admin.call("GET", "/api/me")
        admin_id = me["operator"]["id"]
        await admin.call("POST", f"/api/dialogs/{dialog['id']}/join")
        await dialog_where(ivy, participants=[admin_id])
        await admin.call(
            "POST", f"/api/dialogs/{dialog['id']}/transfer", {"to_operator_id": admin_id}
        )
        over = await dialog_where(admin, operator_id=admin_id)
        assert over["id"] == dialog["id"] and ids["ivy"] != admin_id
    finally:
        await ivy.close()
        await admin.close()
