"""Long replies: 20 000 characters go out, one more is refused, the web chat gets the reply
whole, and the console learns how many parts each channel will make."""

from __future__ import annotations

from typing import Any

from tests.support.console_world import World, logged_in
from tests.support.hubclient import VisitorClient

LONG = ("Подробный ответ по заказу. " * 800)[:20_000]


async def test_a_20000_character_reply_reaches_the_web_chat_as_one_message(hub: str) -> None:
    admin = await logged_in(hub, "admin")
    await admin.wait_status("online")
    await admin.open_socket()
    visitor = VisitorClient(hub)
    await visitor.connect()
    await visitor.say("Расскажите всё")
    dialog = (await admin.receive_until("dialog"))["dialog"]
    status, body = await admin.call(
        "POST", f"/api/dialogs/{dialog['id']}/messages", {"text": LONG, "client_msg_id": "long"}
    )
    assert status == 202, body
    reply = await visitor.receive_until("message", author="operator")
    assert reply["text"] == LONG.strip()
    status, body = await admin.call(
        "POST",
        f"/api/dialogs/{dialog['id']}/messages",
        {"text": LONG + "!", "client_msg_id": "too-long"},
    )
    assert status == 400 and body["error"].startswith("text:")
    await visitor.close()
    await admin.close()


async def test_the_console_learns_how_many_parts_a_reply_makes(hub: str, world: World) -> None:
    admin = await logged_in(hub, "admin")
    telegram, webchat = world.dialogs["petr"], world.dialogs["olga"]

    async def parts(dialog: int, length: int) -> tuple[int, dict[str, Any]]:
        status, body = await admin.call("GET", f"/api/dialogs/{dialog}/parts?length={length}")
        return status, body

    assert await parts(telegram, 20_000) == (
        200,
        {
            "channel_kind": "telegram",
            "max_text": 4096,
            "max_reply": 20_000,
            "length": 20_000,
            "parts": 5,
        },
    )
    assert (await parts(telegram, 4096))[1]["parts"] == 1
    assert (await parts(telegram, 4097))[1]["parts"] == 2
    assert (await parts(webchat, 20_000))[1] == {
        "channel_kind": "webchat",
        "max_text": None,
        "max_reply": 20_000,
        "length": 20_000,
        "parts": 1,
    }
    status, body = await parts(webchat, 20_001)
    assert status == 400 and body["error"].startswith("length:")
    olga = await logged_in(hub, "olga")
    status, _ = await olga.call("GET", f"/api/dialogs/{telegram}/parts?length=10")
    assert status == 404
    await olga.close()
    await admin.close()
