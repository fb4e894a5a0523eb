"""Admins manage Telegram, VK and Viber accounts from the console; running connectors pick up
every change without a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from config.settings import Settings
from core.db import make_engine, make_sessionmaker
from core.db.schema import Operator
from operator_console.auth import hash_password
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient

TG_TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvw"
VK: dict[str, Any] = {
    "group_id": 218340211,
    "token": "vk1.a.community-token-0123456789abcdef",
    "confirmation": "c0nf1rm42",
    "secret": "Sh0pSecret",
}


async def add_operator(settings: Settings, login: str, role: str) -> None:
    engine = make_engine(settings.effective_database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add(
            Operator(
                login=login,
                name=login.title(),
                role=role,
                password_hash=hash_password("pw-" + login),
            )
        )
    await engine.dispose()


async def as_admin(hub: str) -> OperatorClient:
    client = OperatorClient(hub)
    await client.login("admin", ADMIN_PASSWORD)
    return client


async def test_only_admins_manage_channels_bad_fields_are_named_and_secrets_masked(
    hub: str, settings: Settings
) -> None:
    async with aiohttp.ClientSession() as anon, anon.get(f"{hub}/api/admin/channels") as resp:
        assert resp.status == 401
    await add_operator(settings, "mia", "manager")
    manager = OperatorClient(hub)
    await manager.login("mia", "pw-mia")
    assert (await manager.call("GET", "/api/admin/channels"))[0] == 403
    new = {"kind": "vk", "key": "club", "name": "Shop VK", "line_id": 1, "config": VK}
    assert (await manager.call("POST", "/api/admin/channels", new))[0] == 403
    await manager.close()

    admin = await as_admin(hub)
    for body, reason in [
        (new | {"kind": "icq"}, "kind: "),
        (new | {"config": VK | {"group_id": "abc"}}, "config.group_id: "),
        (new | {"config": VK | {"secret": ""}}, "config: Value error, secret is required"),
        (new | {"config": VK | {"colour": "red"}}, "config.colour: Extra inputs"),
        (new | {"line_id": 999}, "line_id: no such line"),
        (new | {"key": "no spaces"}, "key: "),
    ]:
        status, answer = await admin.call("POST", "/api/admin/channels", body)
        assert status == 400 and answer["error"].startswith(reason), (reason, answer)

    status, answer = await admin.call("POST", "/api/admin/channels", new)
    assert status == 201
    channel = answer["channel"]
    assert channel["config"]["token"] == "••••cdef" and channel["config"]["secret"] == "••••"
    assert channel["config"]["confirmation"] == "c0nf1rm42"
    assert channel["webhook_path"] == "/hooks/vk/club" and channel["enabled"] is True
    assert (await admin.call("POST", "/api/admin/channels", new))[0] == 409

    # Masked values sent back keep the secret; a changed field is checked with the rest.
    status, answer = await admin.call(
        "PATCH",
        f"/api/admin/channels/{channel['id']}",
        {"name": "Shop (VK)", "config": channel["config"] | {"confirmation": "n3wc0de"}},
    )
    assert status == 200 and answer["channel"]["config"]["confirmation"] == "n3wc0de"
    status, answer = await admin.call(
        "PATCH", f"/api/admin/channels/{channel['id']}", {"config": {"mode": "sideways"}}
    )
    assert status == 400 and answer["error"].startswith("config.mode: ")
    _s, listed = await admin.call("GET", "/api/admin/channels")
    [row] = [c for c in listed["channels"] if c["kind"] == "vk"]  # the seed adds a web chat
    assert row["name"] == "Shop (VK)" and row["config"]["token"] == "••••cdef"
    assert "Sh0pSecret" not in str(listed) and VK["token"] not in str(listed)

    status, answer = await admin.call("POST", f"/api/admin/channels/{channel['id']}/disable")
    assert status == 200 and answer["channel"]["enabled"] is False
    assert (await admin.call("POST", "/api/admin/channels/9999/enable"))[0] == 404
    await admin.close()


async def webhook_status(hub: str, key: str, update: dict[str, Any]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{hub}/hooks/telegram/{key}",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-1"},
        ) as resp,
    ):
        return resp.status


async def until_status(hub: str, key: str, update: dict[str, Any], wanted: int) -> None:
    async with asyncio.timeout(10):
        while await webhook_status(hub, key, update) != wanted:
            await asyncio.sleep(0.05)


async def test_every_signed_in_user_reads_the_kinds_labels_and_capabilities(
    hub: str, settings: Settings
) -> None:
    async with aiohttp.ClientSession() as anon, anon.get(f"{hub}/api/channel-kinds") as resp:
        assert resp.status == 401
    await add_operator(settings, "oleg", "operator")
    operator = OperatorClient(hub)
    await operator.login("oleg", "pw-oleg")
    status, answer = await operator.call("GET", "/api/channel-kinds")
    await operator.close()
    assert status == 200
    kinds = answer["kinds"]
    assert set(kinds) == {"telegram", "vk", "viber", "email", "webchat"}
    assert kinds["webchat"]["label"] == "Web chat" and kinds["webchat"]["echo"] is True
    assert kinds["telegram"]["max_text"] == 4096 and kinds["telegram"]["webhook"] is True
    assert kinds["email"]["max_text"] is None and kinds["email"]["webhook"] is False
    assert kinds["vk"]["secret_fields"] == ["secret", "token"]

    admin = await as_admin(hub)
    status, listing = await admin.call("GET", "/api/admin/channels")
    await admin.close()
    assert status == 200 and listing["kind_info"] == kinds
    assert listing["kinds"] == sorted(kinds)


async def test_a_telegram_bot_added_in_the_console_receives_at_once_and_stops_when_disabled(
    hub: str,
) -> None:
    admin = await as_admin(hub)
    await admin.open_socket()
    update = {
        "update_id": 1001,
        "message": {
            "message_id": 7,
            "date": 1732330000,
            "text": "hello from a brand new bot",
            "chat": {"id": 4242, "type": "private", "first_name": "Ivan"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Ivan"},
        },
    }
    assert await webhook_status(hub, "newbot", update) == 404
    status, answer = await admin.call(
        "POST",
        "/api/admin/channels",
        {
            "kind": "telegram",
            "key": "newbot",
            "name": "New bot",
            "line_id": 1,
            "config": {"token": TG_TOKEN, "mode": "webhook", "webhook_secret": "s3cret-1"},
        },
    )
    assert status == 201, answer
    await until_status(hub, "newbot", update, 200)  # no restart: the notice reloaded it
    message = (await admin.receive_until("message", author="client"))["message"]
    assert message["text"] == "hello from a brand new bot"

    channel_id = answer["channel"]["id"]
    await admin.call("POST", f"/api/admin/channels/{channel_id}/disable")
    await until_status(hub, "newbot", update, 404)
    await admin.call("POST", f"/api/admin/channels/{channel_id}/enable")
    await until_status(hub, "newbot", update, 200)
    await admin.close()
