"""Routing timers end to end: the whole hub, real Redis and database, through the bus.

No test waits out a line's real times (an offer waits at least 60 s by product rule): each
moves the armed timer's due time to the past, which is exactly what the clock reaching it
looks like to the timer loop, and the router handles the fired timer as in production.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.schema import Dialog, Line
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.routing_world import configure, dialog_where, fire_now
from tests.support.routing_world import operator as sign_in

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def set_line_settings(settings: Settings, **line_settings: Any) -> None:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            line = await s.scalar(select(Line).where(Line.key == "demo"))
            assert line is not None
            line.settings = line_settings
    finally:
        await engine.dispose()


async def dialog_row(settings: Settings, dialog_id: int) -> Dialog:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s:
            row = await s.get(Dialog, dialog_id)
            assert row is not None
            return row
    finally:
        await engine.dispose()


async def operator(hub: str, login: str) -> OperatorClient:
    """An operator signed in and shown online, so the router offers them dialogs."""
    client = await sign_in(hub, login)
    await client.wait_status("online")
    return client


async def test_sequence_offers_go_round_the_queue_as_each_times_out(
    hub: str, settings: Settings, redis_url: str, visitor: VisitorClient
) -> None:
    ids = await configure(settings, "sequence", ["ann", "ben"], offer_seconds=60)
    ann, ben = await operator(hub, "ann"), await operator(hub, "ben")
    try:
        await visitor.say("anyone?")
        offered = await dialog_where(ann, offered_to=[ids["ann"]])
        await fire_now(redis_url, f"offer:{offered['id']}")
        await dialog_where(ben, id=offered["id"], offered_to=[ids["ben"]])
        # Round and round: Ben's offer runs out too and it comes back to Ann.
        await fire_now(redis_url, f"offer:{offered['id']}")
        again = await dialog_where(ann, id=offered["id"], offered_to=[ids["ann"]])
        assert again["status"] == "waiting" and again["operator_id"] is None
        _status, body = await ann.call("GET", f"/api/dialogs/{offered['id']}/audit")
        assert [(r["event"], r["operator_id"]) for r in body["audit"]] == [
            ("offer", ids["ann"]),
            ("timeout", ids["ann"]),
            ("offer", ids["ben"]),
            ("timeout", ids["ben"]),
            ("offer", ids["ann"]),
        ]
    finally:
        await ann.close()
        await ben.close()


async def test_no_answer_sends_the_auto_reply_and_requeues(
    hub: str, settings: Settings, redis_url: str, visitor: VisitorClient
) -> None:
    ids = await configure(
        settings,
        "evenly",
        ["cid"],
        no_answer_seconds=30,
        no_answer_action="requeue",
        auto_replies={"no_answer": "Still looking for someone free."},
    )
    cid = await operator(hub, "cid")
    try:
        await visitor.say("hello")
        dialog = await dialog_where(cid, status="open", operator_id=ids["cid"])
        await fire_now(redis_url, f"noanswer:{dialog['id']}")
        reply = await visitor.receive_until("message", author="system")
        assert reply["text"] == "Still looking for someone free."
        _status, body = await cid.call("GET", f"/api/dialogs/{dialog['id']}/audit")
        # Back to the queue, where nobody but the silent operator could take it: it waits.
        assert [r["event"] for r in body["audit"]] == ["assign", "no_answer", "wait"]
        assert (await dialog_row(settings, dialog["id"])).operator_id is None
    finally:
        await cid.close()


async def test_auto_close_after_the_client_stays_silent(
    hub: str, settings: Settings, redis_url: str, visitor: VisitorClient
) -> None:
    await configure(
        settings,
        "evenly",
        ["dot"],
        auto_close_minutes=5,
        auto_replies={"close": "Closed for inactivity."},
    )
    dot = await operator(hub, "dot")
    try:
        await visitor.say("question")
        dialog = await dialog_where(dot, status="open")
        await dot.call(
            "POST",
            f"/api/dialogs/{dialog['id']}/messages",
            {"text": "answer", "client_msg_id": "d1"},
        )
        await fire_now(redis_url, f"autoclose:{dialog['id']}")
        closed = await dialog_where(dot, id=dialog["id"], status="closed")
        assert closed["outcome"] == "answered"
        goodbye = await visitor.receive_until("message", author="system")
        assert goodbye["text"] == "Closed for inactivity."
        assert (await dialog_row(settings, dialog["id"])).closed_by == "auto"
    finally:
        await dot.close()


async def test_out_of_hours_auto_reply_then_the_dialog_waits_for_the_opening(
    hub: str, settings: Settings, redis_url: str, visitor: VisitorClient
) -> None:
    # Open only on the weekday after tomorrow (UTC): closed now, whatever the time of day.
    later = WEEKDAYS[(datetime.now(UTC) + timedelta(days=2)).weekday()]
    ids = await configure(
        settings,
        "evenly",
        ["eve"],
        schedule={"week": {later: ["09:00-18:00"]}},
        auto_replies={"out_of_hours": "We are closed; we answer when we open."},
    )
    eve = await operator(hub, "eve")
    try:
        await visitor.say("are you there?")
        reply = await visitor.receive_until("message", author="system")
        assert reply["text"] == "We are closed; we answer when we open."
        waiting = await dialog_where(eve, status="waiting")
        row = await dialog_row(settings, waiting["id"])
        assert row.wait_reason == "out_of_hours" and row.began_in_hours is False
        # The opening comes: the line is open by then, and the armed timer hands it out.
        await set_line_settings(settings)
        await fire_now(redis_url, f"opening:{ids['line']}")
        opened = await dialog_where(eve, id=waiting["id"], status="open")
        assert opened["operator_id"] == ids["eve"]
        _status, body = await eve.call("GET", f"/api/dialogs/{waiting['id']}/audit")
        reasons = [(r["event"], r["reason"]) for r in body["audit"]]
        assert reasons == [("wait", "out_of_hours"), ("assign", "line_opened")]
    finally:
        await eve.close()
