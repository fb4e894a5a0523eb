"""Channels set themselves up: the hub asks the platform about a token when it is saved,
registers and removes its own webhooks (Telegram, Viber), shows VK what to paste, answers a
new channel's webhook at once, and shows each channel's health. One hub for the module, with
local peers of all three platforms."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from operator_console.app import build_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import NewPage
from tests.support.connector_hub import Hub, eventually, make_settings
from tests.support.hubclient import OperatorClient
from tests.support.servers import RedisServer, free_port
from tests.support.telegram_peer import TOKEN as TG_TOKEN
from tests.support.telegram_peer import TelegramPeer
from tests.support.viber_peer import TOKEN as VIBER_TOKEN
from tests.support.viber_peer import ViberPeer
from tests.support.vk_peer import CALLBACK, GROUP, SECRET, VkPeer
from tests.support.vk_peer import TOKEN as VK_TOKEN

pytestmark = pytest.mark.parametrize("redis_server", ["7"], indirect=True)

TG_SECRET = "X-Telegram-Bot-Api-Secret-Token"
# A token Telegram revoked after it was saved: every poll is refused.
REVOKED = {
    "token": "555555:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    "mode": "polling",
    "poll_timeout": 0,
}


@dataclass
class Peers:
    telegram: TelegramPeer
    viber: ViberPeer
    vk: VkPeer


@pytest.fixture(scope="module")
async def peers() -> AsyncIterator[Peers]:
    peers = Peers(
        TelegramPeer(TG_TOKEN), ViberPeer(VIBER_TOKEN), VkPeer(VK_TOKEN, GROUP, secret=SECRET)
    )
    for peer in (peers.telegram, peers.viber, peers.vk):
        await peer.start()
    yield peers
    for peer in (peers.telegram, peers.viber, peers.vk):
        await peer.stop()


@pytest.fixture(scope="module")
async def hub(
    redis_server: RedisServer, peers: Peers, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Hub]:
    """A hub whose public address is its own, so the platforms' peers can call it back."""
    client = redis.asyncio.Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    port = free_port()
    settings = make_settings(
        redis_server.url,
        Path(tmp_path_factory.mktemp("setup")),
        telegram_api_base=peers.telegram.base,
        viber_api_base=peers.viber.base,
        vk_api_base=peers.vk.base,
        public_url=f"http://127.0.0.1:{port}",
        port=port,
    )
    server = TestServer(build_app(settings), host="127.0.0.1", port=port)
    await server.start_server()
    yield Hub(server)
    await server.close()


@pytest.fixture(scope="module")
async def admin(hub: Hub) -> AsyncIterator[OperatorClient]:
    client = OperatorClient(hub.base)
    await client.login("admin", ADMIN_PASSWORD)
    await client.open_socket()
    yield client
    await client.close()


async def create(admin: OperatorClient, kind: str, key: str, config: dict[str, Any]) -> Any:
    return await admin.call(
        "POST",
        "/api/admin/channels",
        {"kind": kind, "key": key, "name": f"{kind} {key}", "line_id": 1, "config": config},
    )


async def listed(admin: OperatorClient, channel_id: int) -> dict[str, Any]:
    _status, body = await admin.call("GET", "/api/admin/channels")
    [row] = [c for c in body["channels"] if c["id"] == channel_id]
    return dict(row)


async def eventually_health(admin: OperatorClient, channel_id: int, field: str) -> Any:
    """The channel's health once ``field`` is set in it."""
    async with asyncio.timeout(10):
        while not (health := (await listed(admin, channel_id))["health"])[field]:
            await asyncio.sleep(0.05)
    return health


async def channel_id_of(admin: OperatorClient, key: str) -> int | None:
    _status, body = await admin.call("GET", "/api/admin/channels")
    return next((int(c["id"]) for c in body["channels"] if c["key"] == key), None)


async def channel_in_place(
    admin: OperatorClient, kind: str, key: str, config: dict[str, Any]
) -> int:
    """The id of the channel ``key``, created with ``config`` unless it exists already."""
    channel_id = await channel_id_of(admin, key)
    if channel_id is not None:
        return channel_id
    status, answer = await create(admin, kind, key, config)
    assert status == 201, answer
    return int(answer["channel"]["id"])


async def post(hub: Hub, path: str, body: dict[str, Any], headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{hub.base}{path}",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", **headers},
        ) as resp,
    ):
        return resp.status


async def test_a_telegram_token_is_checked_and_the_webhook_registered_with_a_secret(
    hub: Hub, peers: Peers, admin: OperatorClient
) -> None:
    telegram = peers.telegram
    fake = {"token": "999999:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "mode": "webhook"}
    status, answer = await create(admin, "telegram", "fake", fake)
    assert status == 400
    assert answer["error"] == "config.token: Telegram refused the token: Unauthorized"
    assert telegram.refused[-1][0] == "getMe"

    status, answer = await create(admin, "telegram", "shop", {"token": TG_TOKEN})
    assert status == 201, answer
    assert answer["check"]["name"] == "Shop (@shop_bot)"
    channel = answer["channel"]
    url = f"{hub.base}/hooks/telegram/shop"
    assert channel["webhook_url"] == url
    # The hub registers its own webhook, with a secret it made and Telegram will send back.
    [registered] = await eventually(lambda: telegram.sent("setWebhook"))
    assert registered["url"] == url and len(registered["secret_token"]) >= 32
    update = telegram.user_message(4242, "hello")
    assert await post(hub, "/hooks/telegram/shop", update, {TG_SECRET: "guess"}) == 401
    assert (
        await post(hub, "/hooks/telegram/shop", update, {TG_SECRET: registered["secret_token"]})
        == 200
    )
    dialog = (await admin.receive_until("dialog", channel_kind="telegram"))["dialog"]
    await admin.call(
        "POST",
        f"/api/dialogs/{dialog['id']}/messages",
        {"text": "hi there", "client_msg_id": "tg1"},
    )
    await eventually(lambda: telegram.sent())
    health = await eventually_health(admin, channel["id"], "last_out")
    assert health["status"] == "ok" and health["last_in"] <= health["last_out"]
    assert health["webhook"] == url and health["error"] is None

    # The channel page shows Telegram's own view, with its last error delivering updates.
    telegram.webhook_error = "Wrong response from the webhook: 502 Bad Gateway"
    status, checked = await admin.call("GET", f"/api/admin/channels/{channel['id']}/check")
    assert status == 200
    assert checked["check"]["webhook"]["url"] == url
    assert checked["check"]["webhook"]["last_error"] == telegram.webhook_error
    assert checked["check"]["webhook"]["last_error_at"]

    # Polling needs the webhook gone; so does a disabled bot.
    status, _ = await admin.call(
        "PATCH",
        f"/api/admin/channels/{channel['id']}",
        {"config": {"mode": "polling", "poll_timeout": 0}},
    )
    assert status == 200
    await eventually(lambda: telegram.sent("deleteWebhook"))
    assert telegram.webhook_url == ""
    status, _ = await admin.call(
        "PATCH", f"/api/admin/channels/{channel['id']}", {"config": {"mode": "webhook"}}
    )
    await eventually(lambda: telegram.webhook_url == url)
    deletes = len(telegram.sent("deleteWebhook"))
    await admin.call("POST", f"/api/admin/channels/{channel['id']}/disable")
    await eventually(lambda: len(telegram.sent("deleteWebhook")) > deletes)
    assert telegram.webhook_url == ""
    assert (await listed(admin, channel["id"]))["health"]["status"] == "disabled"


async def test_a_failing_poll_backs_off_logs_one_line_each_time_and_shows_the_error(
    hub: Hub, peers: Peers, admin: OperatorClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="connectors.platform"):
        channel_id = await hub.add_channel("telegram", "revoked", REVOKED)
        await eventually(
            lambda: len([m for m, _t in peers.telegram.refused if m == "deleteWebhook"]) >= 3,
            timeout=15,
        )
    times = [t for m, t in peers.telegram.refused if m == "deleteWebhook"]
    first, second = times[1] - times[0], times[2] - times[1]
    # The waits the hub chose, 1 s then 2 s, are in its log; the peer saw it wait at least that
    # long. A busy machine only adds to each interval, so no upper bound is asserted.
    assert first >= 0.8 and second >= 1.8
    lines = [r for r in caplog.records if "channel %d: polling failed" in r.msg]
    assert len(lines) >= 2 and all(r.exc_info is None for r in lines)
    assert "Unauthorized" in lines[0].getMessage() and "again in 1 s" in lines[0].getMessage()
    assert "again in 2 s" in lines[1].getMessage()
    health = (await listed(admin, channel_id))["health"]
    assert health["status"] == "error" and "Unauthorized" in health["error"]
    assert health["error_at"]


async def test_viber_is_told_its_webhook_once_the_channel_answers_and_untold_on_disable(
    hub: Hub, peers: Peers, admin: OperatorClient
) -> None:
    viber = peers.viber
    status, answer = await create(
        admin, "viber", "bad", {"token": "0123456789abcdef-x", "sender_name": "Shop"}
    )
    assert status == 400 and answer["error"].startswith("config.token: Viber refused the token")
    status, answer = await create(
        admin, "viber", "vshop", {"token": VIBER_TOKEN, "sender_name": "Shop"}
    )
    assert status == 201 and answer["check"]["name"] == "Shop"
    url = f"{hub.base}/hooks/viber/vshop"
    # Viber checked the address while set_webhook ran, and the hub answered it.
    await eventually(lambda: viber.webhook == url)
    assert viber.webhook_checks == [(url, 200)]
    [registered] = viber.method_calls("set_webhook")[-1:]
    assert registered["event_types"] == ["delivered", "seen", "failed", "conversation_started"]
    channel_id = answer["channel"]["id"]
    await eventually(lambda: viber.webhook == url)
    row = await listed(admin, channel_id)
    assert row["health"] == row["health"] | {"status": "ok", "webhook": url}
    await admin.call("POST", f"/api/admin/channels/{channel_id}/disable")
    await eventually(lambda: viber.webhook == "")
    assert viber.method_calls("set_webhook")[-1] == {"url": ""}


async def test_vk_shows_what_to_paste_and_checks_the_community_token(
    hub: Hub, peers: Peers, admin: OperatorClient
) -> None:
    wrong = CALLBACK | {"token": "vk1.a.wrong-token-000000000"}
    status, answer = await create(admin, "vk", "club0", wrong)
    assert status == 400
    assert answer["error"].startswith("config.token: VK refused the token: User authorization")
    status, answer = await create(admin, "vk", "club0", CALLBACK | {"group_id": 1})
    assert status == 400
    assert answer["error"] == (
        f"config.group_id: the token belongs to community {GROUP} (Shop), not this one"
    )
    status, answer = await create(admin, "vk", "club", CALLBACK)
    assert status == 201 and answer["check"]["name"] == "Shop"
    channel = answer["channel"]
    assert channel["webhook_url"] == f"{hub.base}/hooks/vk/club"
    assert channel["config"]["confirmation"] == "c0nf1rm42"
    assert peers.vk.method_calls("groups.getById")[-1]["access_token"] == VK_TOKEN


async def test_a_webhook_sent_right_after_the_201_is_accepted(
    hub: Hub, peers: Peers, admin: OperatorClient
) -> None:
    viber = peers.viber
    for n in range(5):
        status, answer = await create(
            admin, "viber", f"fresh{n}", {"token": VIBER_TOKEN, "sender_name": "Shop"}
        )
        assert status == 201
        callback = {
            "event": "message",
            "timestamp": 1732330000000,
            "message_token": 7_000_000 + n,
            "sender": {"id": f"user-{n}==", "name": "Ivan"},
            "message": {"type": "text", "text": "right away"},
        }
        assert await viber.callback(f"{hub.base}/hooks/viber/fresh{n}", callback) == (200, "")
        await admin.call("POST", f"/api/admin/channels/{answer['channel']['id']}/disable")


async def open_channels(page: Page, hub: Hub) -> None:
    await page.goto(f"{hub.base}/")
    await page.locator('[data-ol="login"]').fill("admin")
    await page.locator('[data-ol="password"]').fill(ADMIN_PASSWORD)
    await page.locator('[data-ol="login-submit"]').click()
    await expect(page.locator('[data-ol="me-name"]')).not_to_be_empty()
    if await page.locator('[data-ol="nav-toggle"]').is_visible():  # a phone: screens in a menu
        await page.locator('[data-ol="nav-toggle"]').click()
    await page.locator('[data-ol="channels-open"]').click()


async def shot(page: Page, name: str) -> None:
    """A screenshot into ``OPENLINES_SHOTS``, when it is set."""
    folder = os.environ.get("OPENLINES_SHOTS")
    if folder:
        await page.screenshot(path=Path(folder) / f"{name}.png", full_page=True)


@pytest.mark.e2e
async def test_the_channel_page_shows_health_what_to_paste_and_telegrams_last_error(
    hub: Hub, peers: Peers, admin: OperatorClient, new_page: NewPage
) -> None:
    # The channels the tests above set up, made here when this test runs alone.
    shop = await channel_in_place(admin, "telegram", "shop", {"token": TG_TOKEN})
    await admin.call("POST", f"/api/admin/channels/{shop}/enable")
    await eventually(lambda: peers.telegram.webhook_url.endswith("/hooks/telegram/shop"))
    peers.telegram.webhook_error = "Wrong response from the webhook: 502 Bad Gateway"
    refused = await channel_id_of(admin, "revoked")
    if refused is None:  # Telegram refuses its token, so it is stored as if saved before
        refused = await hub.add_channel("telegram", "revoked", REVOKED)
    await eventually_health(admin, refused, "error")
    await channel_in_place(admin, "vk", "club", CALLBACK)
    vshop = await channel_in_place(
        admin, "viber", "vshop", {"token": VIBER_TOKEN, "sender_name": "Shop"}
    )
    await admin.call("POST", f"/api/admin/channels/{vshop}/disable")

    page = await new_page("admin", viewport={"width": 1280, "height": 800})
    await open_channels(page, hub)
    rows = page.locator('[data-ol="channels-list"] tbody tr')
    good, revoked = rows.filter(has_text="telegram shop"), rows.filter(has_text="revoked")
    await expect(good.locator('[data-ol="channel-status"]')).to_have_text("OK")
    await expect(good.locator('[data-ol="channel-webhook-url"]')).to_have_text(
        f"{hub.base}/hooks/telegram/shop"
    )
    await expect(good.locator('[data-ol="channel-traffic"]')).to_contain_text("In: ")
    await expect(revoked.locator('[data-ol="channel-status"]')).to_have_text("Error")
    await expect(revoked.locator('[data-ol="channel-health-error"]')).to_contain_text(
        "polling failed: Telegram server says - Unauthorized"
    )
    vk = rows.filter(has_text="vk club")
    await expect(vk.locator('[data-ol="channel-webhook-url"]')).to_have_text(
        f"{hub.base}/hooks/vk/club"
    )
    await expect(vk.locator('[data-ol="channel-confirmation"]')).to_have_text("c0nf1rm42")
    await expect(rows.filter(has_text="vshop").locator('[data-ol="channel-status"]')).to_have_text(
        "Disabled"
    )

    await good.locator('[data-ol="channel-edit"]').click()
    platform = page.locator('[data-ol="channel-platform"]')
    await expect(platform.locator('[data-ol="channel-platform-name"]')).to_contain_text(
        "Shop (@shop_bot)"
    )
    await expect(platform.locator('[data-ol="channel-platform-error"]')).to_contain_text(
        "Wrong response from the webhook: 502 Bad Gateway"
    )
    await shot(page, "channels-1280x800")

    phone = await new_page("phone", viewport={"width": 375, "height": 667})
    await open_channels(phone, hub)
    state = phone.locator('[data-ol="channels-list"] tbody tr', has_text="revoked")
    await expect(state.locator('[data-ol="channel-status"]')).to_have_text("Error")
    # One card per channel: its state is on screen without scrolling sideways.
    box = await state.locator('[data-ol="channel-health-error"]').bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    await shot(phone, "channels-375x667")
    await state.locator('[data-ol="channel-edit"]').click()
    await expect(phone.locator('[data-ol="channel-platform-refused"]')).to_contain_text(
        "Telegram refused the token: Unauthorized"
    )
    await shot(phone, "channels-form-375x667")
