"""The web chat end to end through the bus, the router and the console, without a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient


@pytest.fixture
async def admin(hub: str) -> AsyncIterator[OperatorClient]:
    client = OperatorClient(hub)
    await client.login("admin", ADMIN_PASSWORD)
    await client.wait_status("online")
    hello = await client.open_socket()
    assert hello["type"] == "hello" and hello["event_id"] == 1
    yield client
    await client.close()


@pytest.fixture
async def visitor(hub: str) -> AsyncIterator[VisitorClient]:
    client = VisitorClient(hub)
    yield client
    await client.close()


async def test_visitor_message_reaches_operator_and_reply_reaches_visitor(
    admin: OperatorClient, visitor: VisitorClient
) -> None:
    welcome = await visitor.connect()
    assert welcome["type"] == "welcome" and welcome["history"] == []
    cid = await visitor.say("Hello, is the blue kettle in stock?")
    assert (await visitor.receive_until("accepted"))["client_msg_id"] == cid
    echo = await visitor.receive_until("message", client_msg_id=cid)
    assert echo["author"] == "visitor" and isinstance(echo["id"], int)

    dialog = (await admin.receive_until("dialog"))["dialog"]
    assert dialog["status"] == "open" and dialog["channel_kind"] == "webchat"
    assert dialog["operator_id"] is not None
    message = (await admin.receive_until("message"))["message"]
    assert message["text"] == "Hello, is the blue kettle in stock?"
    assert message["author"] == "client"

    status, body = await admin.call(
        "POST",
        f"/api/dialogs/{dialog['id']}/messages",
        {"text": "Yes, two left.", "client_msg_id": "r1"},
    )
    assert status == 202, body
    reply = await visitor.receive_until("message", author="operator")
    assert reply["text"] == "Yes, two left." and reply["author_name"] == "Administrator"
    stored = (await admin.receive_until("message", client_msg_id="r1"))["message"]
    assert stored["author"] == "operator"

    status, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
    assert [m["text"] for m in body["messages"]] == [
        "Hello, is the blue kettle in stock?",
        "Yes, two left.",
    ]
    # Event ids on the operator socket grow by one per frame.
    ids = [f["event_id"] for f in admin.frames]
    assert ids == list(range(1, len(ids) + 1))


async def test_reload_keeps_history_and_a_token_opens_only_its_own_dialogs(
    hub: str, admin: OperatorClient
) -> None:
    alice, bob = VisitorClient(hub), VisitorClient(hub)
    await alice.connect()
    await bob.connect()
    a1 = await alice.say("alice one")
    await alice.receive_until("message", client_msg_id=a1)
    b1 = await bob.say("bob one")
    await bob.receive_until("message", client_msg_id=b1)
    token = alice.token
    await alice.close()

    again = VisitorClient(hub)
    welcome = await again.connect(token=token)
    assert welcome["token"] == token
    assert [m["text"] for m in welcome["history"]] == ["alice one"]
    # "after" replays only what the page has not seen yet.
    last = welcome["history"][-1]["id"]
    a2 = await again.say("alice two")
    await again.receive_until("message", client_msg_id=a2)
    await again.close()
    resumed = VisitorClient(hub)
    welcome = await resumed.connect(token=token, after=last)
    assert [m["text"] for m in welcome["history"]] == ["alice two"]
    await resumed.close()
    await bob.close()


async def test_the_same_widget_message_sent_twice_is_stored_once(
    admin: OperatorClient, visitor: VisitorClient
) -> None:
    await visitor.connect()
    await visitor.say("only once", client_msg_id="retry-1")
    await visitor.receive_until("message", client_msg_id="retry-1")
    # A retry after a dropped connection: same client_msg_id on a new socket.
    token = visitor.token
    await visitor.ws.close()  # type: ignore[union-attr]
    await visitor.connect(token=token)
    await visitor.say("only once", client_msg_id="retry-1")
    await visitor.receive_until("accepted", client_msg_id="retry-1")
    second = await visitor.say("next")
    await visitor.receive_until("message", client_msg_id=second)

    dialog = (await admin.receive_until("dialog"))["dialog"]
    _status, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
    assert [m["text"] for m in body["messages"]] == ["only once", "next"]
    await admin.receive_until("message", client_msg_id=second)
    delivered = [f["message"]["text"] for f in admin.frames if f["type"] == "message"]
    assert delivered == ["only once", "next"]


async def test_bad_frames_get_errors_and_nobody_else_is_affected(
    hub: str, visitor: VisitorClient
) -> None:
    other = VisitorClient(hub)
    await other.connect()
    await visitor.connect()
    cases = [
        ("{not json", "bad_json"),
        ('["a list"]', "bad_frame"),
        ('{"type": "shout", "text": "x"}', "bad_frame"),
        ('{"type": "message", "client_msg_id": "has space", "text": "x"}', "bad_frame"),
        ('{"type": "message", "client_msg_id": "a1", "text": "' + "x" * 4001 + '"}', "too_long"),
        ('{"type": "message", "client_msg_id": "a2", "text": "   "}', "bad_frame"),
        ('{"type": "hello"}', "bad_frame"),
    ]
    for raw, code in cases:
        await visitor.send_raw(raw)
        frame = await visitor.receive_until("error")
        assert frame["code"] == code, (raw[:40], frame)
        assert frame["reason"]
    # The same connection still works, and so does the other visitor.
    cid = await visitor.say("still here")
    await visitor.receive_until("message", client_msg_id=cid)
    cid = await other.say("me too")
    await other.receive_until("message", client_msg_id=cid)
    await other.close()


@pytest.mark.parametrize(
    "token",
    ["v1.forged.1.AAAA", "garbage", "v1.x.999.sig"],
)
async def test_a_forged_or_foreign_token_is_refused(hub: str, token: str) -> None:
    visitor = VisitorClient(hub)
    frame = await visitor.connect(token=token)
    assert frame == {
        "type": "error",
        "code": "bad_token",
        "reason": "the token is not valid for this chat",
    }
    await visitor.send_raw('{"type": "message", "client_msg_id": "x", "text": "hi"}')
    assert (await visitor.receive_until("error"))["code"] == "not_ready"
    await visitor.close()


async def test_a_token_signed_with_another_key_is_refused(hub: str) -> None:
    from connectors.webchat.token import issue_token

    token, _ = issue_token(b"someone else's key", 1)
    visitor = VisitorClient(hub)
    assert (await visitor.connect(token=token))["code"] == "bad_token"
    await visitor.close()


async def test_a_waiting_dialog_goes_out_when_an_operator_comes_online(
    hub: str, visitor: VisitorClient
) -> None:
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.open_socket()
    # Signing in publishes "online": it must land before "offline", or the stored "offline" of
    # before the sign-in would pass the wait below while "online" is still on its way.
    await admin.wait_status("online")
    status, _ = await admin.call("POST", "/api/presence", {"status": "offline"})
    assert status == 202
    await admin.wait_status("offline")
    await visitor.connect()
    cid = await visitor.say("anyone?")
    await visitor.receive_until("message", client_msg_id=cid)
    # The admin supervises every dialog, so a late frame of an earlier test's dialog may come
    # first: this visitor's dialog is the one its message went to (announced before it).
    dialog_id = (await admin.receive_until("message", client_msg_id=cid))["message"]["dialog_id"]
    waiting = next(
        f["dialog"]
        for f in admin.frames
        if f["type"] == "dialog" and f["dialog"]["id"] == dialog_id
    )
    assert waiting["status"] == "waiting" and waiting["operator_id"] is None
    await admin.call("POST", "/api/presence", {"status": "online"})
    assigned = (await admin.receive_until("dialog", status="open"))["dialog"]
    assert assigned["id"] == waiting["id"] and assigned["operator_id"] is not None
    await admin.close()


async def test_closing_a_dialog_tells_the_visitor_and_the_next_message_opens_a_new_one(
    admin: OperatorClient, visitor: VisitorClient
) -> None:
    await visitor.connect()
    cid = await visitor.say("first question")
    await visitor.receive_until("message", client_msg_id=cid)
    first = (await admin.receive_until("dialog"))["dialog"]
    status, _ = await admin.call("POST", f"/api/dialogs/{first['id']}/close")
    assert status == 202
    await visitor.receive_until("closed", dialog_id=first["id"])
    closed = (await admin.receive_until("dialog", status="closed"))["dialog"]
    assert closed["closed_at"] is not None
    status, body = await admin.call(
        "POST", f"/api/dialogs/{first['id']}/messages", {"text": "late", "client_msg_id": "late"}
    )
    assert status == 409 and body == {"error": "the dialog is closed"}

    cid = await visitor.say("second question")
    await visitor.receive_until("message", client_msg_id=cid)
    second = (await admin.receive_until("dialog", status="open"))["dialog"]
    assert second["id"] != first["id"]
    _status, listed = await admin.call("GET", "/api/dialogs?status=closed")
    assert [d["id"] for d in listed["dialogs"]] == [first["id"]]
