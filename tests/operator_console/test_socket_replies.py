"""Replies over the operator socket: the same checks as ``POST /api/dialogs/{id}/messages``,
each frame answered by its ``client_msg_id``, and a socket only our own pages may open."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from sqlalchemy import delete, func, select

from core.db import SessionMaker
from core.db.schema import ConsoleSession, Message, Operator
from operator_console.auth import CACHE_SECONDS, hash_password
from operator_console.live import SESSION_ENDED
from tests.support.console_world import World, logged_in
from tests.support.hubclient import OperatorClient, VisitorClient, frames_in


async def send(client: OperatorClient, frame: dict[str, Any] | str) -> None:
    assert client.ws is not None
    await client.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))


def reply(dialog_id: int, cmid: str, text: str = "Сейчас проверю") -> dict[str, Any]:
    return {"type": "reply", "dialog_id": dialog_id, "client_msg_id": cmid, "text": text}


async def answer(client: OperatorClient, cmid: str | None = None) -> dict[str, Any]:
    """The next answer to a frame we sent (other frames are skipped)."""
    async with asyncio.timeout(10):
        while True:
            frame = await client.receive()
            if frame["type"] in ("reply_accepted", "reply_refused", "error") and (
                cmid is None or frame.get("client_msg_id") == cmid
            ):
                return frame


async def stored(db: SessionMaker, cmid: str) -> int:
    async with db() as session:
        count = await session.scalar(
            select(func.count()).select_from(Message).where(Message.client_msg_id == cmid)
        )
    return int(count or 0)


async def test_a_reply_over_the_socket_reaches_the_visitor_and_is_stored_once(hub: str) -> None:
    admin = await logged_in(hub, "admin")
    await admin.wait_status("online")
    await admin.open_socket()
    visitor = VisitorClient(hub)
    try:
        await visitor.connect()
        await visitor.say("Где мой заказ?")
        dialog = (await admin.receive_until("dialog"))["dialog"]

        await send(admin, reply(dialog["id"], "s-1", "Уже в пути"))
        assert await answer(admin, "s-1") == {
            "type": "reply_accepted",
            "client_msg_id": "s-1",
            "event_id": admin.frames[-1]["event_id"],
        }
        mine = await admin.receive_until("message", client_msg_id="s-1")
        assert mine["message"]["text"] == "Уже в пути"
        assert mine["message"]["author"] == "operator"
        got = await visitor.receive_until("message", text="Уже в пути")
        assert got["author"] == "operator"

        # The browser posts a reply whose answer it never got: the same client_msg_id is
        # accepted again and stored once.
        status, _ = await admin.call(
            "POST", f"/api/dialogs/{dialog['id']}/messages",
            {"text": "Уже в пути", "client_msg_id": "s-1"},
        )  # fmt: skip
        assert status == 202
        status, body = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
        assert [m["client_msg_id"] for m in body["messages"]].count("s-1") == 1
    finally:
        await visitor.close()
        await admin.close()


async def test_a_socket_reply_is_refused_as_the_post_would_be(hub: str, world: World) -> None:
    olga = await logged_in(hub, "olga")
    await olga.open_socket()
    try:
        # Her own open dialog: accepted.
        await send(olga, reply(world.dialogs["olga"], "ok-1"))
        assert (await answer(olga, "ok-1"))["type"] == "reply_accepted"
        # Petr's dialog on another line: she may not see it, so it does not exist for her.
        await send(olga, reply(world.dialogs["petr"], "no-1"))
        refused = await answer(olga, "no-1")
        assert (refused["type"], refused["status"], refused["error"]) == (
            "reply_refused", 404, "no such dialog",
        )  # fmt: skip
        # Bad fields are named, as the POST names them.
        await send(olga, reply(world.dialogs["olga"], "bad id!"))
        refused = await answer(olga, "bad id!")
        assert refused["status"] == 400 and refused["error"].startswith("client_msg_id:")
        await send(olga, reply(world.dialogs["olga"], "long-1", "x" * 20_001))
        refused = await answer(olga, "long-1")
        assert refused["status"] == 400 and refused["error"].startswith("text:")
        await send(olga, {**reply(world.dialogs["olga"], "extra-1"), "operator_id": 1})
        refused = await answer(olga, "extra-1")
        assert refused["status"] == 400 and refused["error"].startswith("operator_id:")
        await send(olga, {**reply(2**40, "big-1")})
        refused = await answer(olga, "big-1")
        assert refused["status"] == 400 and refused["error"].startswith("dialog_id:")
        # Frames that are not replies get an error, and the socket goes on.
        await send(olga, "{oops")
        assert (await answer(olga))["error"].startswith("frame: not JSON")
        await send(olga, {"type": "take", "dialog_id": 1})
        assert (await answer(olga))["error"] == "type: the socket takes activity and reply frames"
        assert olga.ws is not None
        await olga.ws.send_bytes(b"\x00\x01")
        assert (await answer(olga))["error"] == "frame: JSON text, not binary"
        await send(olga, reply(world.dialogs["olga"], "ok-2"))
        assert (await answer(olga, "ok-2"))["type"] == "reply_accepted"
    finally:
        await olga.close()


async def test_a_closed_dialog_refuses_a_socket_reply(hub: str, world: World) -> None:
    petr = await logged_in(hub, "petr")
    await petr.open_socket()
    try:
        await send(petr, reply(world.dialogs["petr"], "late-1"))
        refused = await answer(petr, "late-1")
        assert (refused["status"], refused["error"]) == (409, "the dialog is closed")
    finally:
        await petr.close()


async def test_an_ended_session_or_a_read_only_role_sends_nothing(
    hub: str, world: World, db: SessionMaker
) -> None:
    async with db() as session, session.begin():
        session.add(
            Operator(login="ana", name="Ana", role="analyst", password_hash=hash_password("pw-ana"))
        )
    ana = await logged_in(hub, "ana")
    await ana.open_socket()
    olga = await logged_in(hub, "olga")
    await olga.open_socket()
    try:
        await send(ana, reply(world.dialogs["olga"], "ana-1"))
        refused = await answer(ana, "ana-1")
        assert (refused["status"], refused["error"]) == (
            403, "your role reads statistics and changes nothing",
        )  # fmt: skip

        # Logged out elsewhere, and this process not told yet (a console process of its own):
        # the session's row is gone, and the cache has forgotten it.
        async with db() as session, session.begin():
            await session.execute(
                delete(ConsoleSession).where(ConsoleSession.operator_id == world.ids["olga"])
            )
        await asyncio.sleep(CACHE_SECONDS + 0.5)
        await send(olga, reply(world.dialogs["olga"], "gone-1"))
        # Refused, and the refusal is not even sent: the socket closes first.
        assert olga.ws is not None
        closing = await olga.ws.receive(timeout=10)
        while closing.type == aiohttp.WSMsgType.TEXT:  # frames sent before the session ended
            assert all(
                frame["type"] not in ("reply_accepted", "reply_refused")
                for frame in frames_in(closing)
            )
            closing = await olga.ws.receive(timeout=10)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == SESSION_ENDED
        assert await stored(db, "ana-1") == 0 and await stored(db, "gone-1") == 0
    finally:
        await ana.close()
        await olga.close()


async def test_only_our_own_pages_open_the_socket(hub: str) -> None:
    admin = await logged_in(hub, "admin")
    ws_url = f"{hub.replace('http', 'ws', 1)}/api/ws"
    try:
        # A page of another origin (another port of the same host sends the same cookie).
        foreign = hub.rsplit(":", 1)[0] + ":1"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await admin.http.ws_connect(ws_url, headers={"Origin": foreign})
        assert refused.value.status == 403
        async with admin.http.ws_connect(ws_url, headers={"Origin": hub}) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
        # A client that names no origin is no browser and holds its own cookie.
        async with (
            aiohttp.ClientSession(cookie_jar=admin.http.cookie_jar) as plain,
            plain.ws_connect(ws_url) as ws,
        ):
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
    finally:
        await admin.close()


async def test_quick_replies_in_one_dialog_reach_the_client_in_the_order_sent(
    hub: str, db: SessionMaker
) -> None:
    """Twenty replies sent at once: each one's visibility read may end before the one sent
    before it (on PostgreSQL it waits for the server), but the dialog gets them in order."""
    admin = await logged_in(hub, "admin")
    await admin.wait_status("online")
    await admin.open_socket()
    visitor = VisitorClient(hub)
    try:
        await visitor.connect()
        await visitor.say("Расскажите подробнее")
        dialog = (await admin.receive_until("dialog"))["dialog"]
        sent = [f"part {n:02d}" for n in range(20)]
        for n, text in enumerate(sent):
            await send(admin, reply(dialog["id"], f"q-{n}", text))
        answers: dict[str, str] = {}  # in whatever order they come
        async with asyncio.timeout(10):
            while len(answers) < len(sent):
                frame = await admin.receive()
                if frame["type"] in ("reply_accepted", "reply_refused"):
                    answers[frame["client_msg_id"]] = frame["type"]
        assert set(answers.values()) == {"reply_accepted"}

        got = [(await visitor.receive_until("message", author="operator"))["text"] for _ in sent]
        assert got == sent
        async with db() as session:
            stored = await session.scalars(
                select(Message.text)
                .where(Message.dialog_id == dialog["id"], Message.author == "operator")
                .order_by(Message.id)
            )
            assert list(stored) == sent
    finally:
        await visitor.close()
        await admin.close()
