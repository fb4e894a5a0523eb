"""State-changing console requests must be JSON from the console's own origin."""

from __future__ import annotations

import aiohttp
from sqlalchemy import func, select

from core.db import SessionMaker
from core.db.schema import Message
from tests.support.console_world import World, logged_in


async def test_json_from_our_own_origin_changes_presence(hub: str, world: World) -> None:
    olga = await logged_in(hub, "olga")
    try:
        assert (await olga.call("POST", "/api/presence", {"status": "away"}))[0] == 202
    finally:
        await olga.close()


async def test_cross_site_and_non_json_requests_are_refused_with_a_reason(
    hub: str, world: World, db: SessionMaker
) -> None:
    olga = await logged_in(hub, "olga")
    dialog = world.dialogs["olga"]
    url = f"{hub}/api/dialogs/{dialog}/messages"
    reply = '{"text": "forged", "client_msg_id": "f1"}'
    cookies = olga.http.cookie_jar
    other_site = "http://127.0.0.1:1"
    cases = [
        ({"Content-Type": "text/plain", "Origin": hub}, "body must be application/json"),
        ({"Content-Type": "application/x-www-form-urlencoded", "Origin": hub}, "body must be"),
        ({"Content-Type": "application/json", "Origin": other_site}, "is not this site"),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, "Origin header"),
        ({"Content-Type": "application/json", "Origin": "null"}, "is not this site"),
    ]
    try:
        async with aiohttp.ClientSession(cookie_jar=cookies) as http:
            for headers, reason in cases:
                async with http.post(url, data=reply, headers=headers) as resp:
                    assert resp.status == 403, headers
                    assert reason in (await resp.json())["error"], headers
            presence = {"Content-Type": "application/x-www-form-urlencoded", "Origin": hub}
            async with http.post(f"{hub}/api/presence", data="status=away",
                                 headers=presence) as resp:  # fmt: skip
                assert resp.status == 403
            same_origin = {"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}
            async with http.post(f"{hub}/api/presence", data='{"status": "away"}',
                                 headers=same_origin) as resp:  # fmt: skip
                assert resp.status == 202
        async with db() as session:
            forged = await session.scalar(
                select(func.count()).select_from(Message).where(Message.text == "forged")
            )
        assert forged == 0
    finally:
        await olga.close()


async def test_the_session_cookie_is_same_site_strict(hub: str, world: World) -> None:
    async with (
        aiohttp.ClientSession(headers={"Origin": hub}) as http,
        http.post(f"{hub}/api/login", json={"login": "olga", "password": "pw-olga"}) as resp,
    ):
        assert resp.status == 200
        assert resp.cookies["openlines_session"]["samesite"] == "Strict"
