"""An operator socket never outlives its session: after a logout, the session's expiry or the
operator being disabled, the socket closes with 4001 before another frame goes out, and the
browser shows the login screen (``live_socket.js`` asks ``/api/me`` on a close). Nor its
operator's role: after a change of role it closes with 4003, and the browser opens another."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from sqlalchemy import delete

from core.db import SessionMaker
from core.db.schema import ConsoleSession, Operator
from operator_console.auth import CACHE_SECONDS, hash_password
from operator_console.live import ROLE_CHANGED, SESSION_ENDED
from tests.support.console_world import World, logged_in
from tests.support.hubclient import OperatorClient, VisitorClient, frames_in


async def closed_with(client: OperatorClient, timeout: float = 10) -> tuple[int, list[str]]:
    """The code the socket was closed with, and the types of the frames that came first."""
    assert client.ws is not None
    before: list[str] = []
    async with asyncio.timeout(timeout):
        while True:
            msg = await client.ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                before += [frame["type"] for frame in frames_in(msg)]
                continue
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
            return int(client.ws.close_code or msg.data), before


async def test_a_logout_closes_the_sessions_socket_and_spares_another_session(
    hub: str, world: World
) -> None:
    tab = await logged_in(hub, "olga")  # this browser: the tab that logs out, and its socket
    phone = await logged_in(hub, "olga")  # a session of her own on another device
    try:
        await tab.open_socket()
        await phone.open_socket()

        assert (await tab.call("POST", "/api/logout"))[0] == 204
        code, before = await closed_with(tab)
        assert code == SESSION_ENDED
        assert "dialog" not in before and "message" not in before

        # The other session is asked too, and stays: it gets the check's ping and lives on.
        pinged = await phone.receive_until("ping")
        assert pinged["type"] == "ping"
        status, me = await phone.call("GET", "/api/me")
        assert (status, me["operator"]["login"]) == (200, "olga")
        assert phone.ws is not None and not phone.ws.closed
    finally:
        await tab.close()
        await phone.close()


async def test_disabling_an_operator_closes_their_socket(hub: str, world: World) -> None:
    admin = await logged_in(hub, "admin")
    olga = await logged_in(hub, "olga")
    try:
        await olga.open_socket()
        status, _ = await admin.call("POST", f"/api/admin/operators/{world.ids['olga']}/disable")
        assert status == 200
        code, _before = await closed_with(olga)
        assert code == SESSION_ENDED
        assert (await olga.call("GET", "/api/me"))[0] == 401
    finally:
        await admin.close()
        await olga.close()


async def test_a_session_ended_elsewhere_closes_the_socket_before_its_next_event(
    hub: str, world: World, db: SessionMaker
) -> None:
    """A logout in another console process deletes the session's row and tells this process
    nothing: its cache forgets the session within ``CACHE_SECONDS``, and the next frame the
    socket would send closes it instead."""
    olga = await logged_in(hub, "olga")
    await olga.wait_status("online")
    visitor = VisitorClient(hub)
    try:
        await olga.open_socket()
        async with db() as session, session.begin():
            await session.execute(
                delete(ConsoleSession).where(ConsoleSession.operator_id == world.ids["olga"])
            )
        await asyncio.sleep(CACHE_SECONDS + 0.5)

        await visitor.connect()
        await visitor.say("Здравствуйте, есть вопрос")
        code, before = await closed_with(olga, timeout=15)
        assert code == SESSION_ENDED
        leaked: list[Any] = [kind for kind in before if kind in ("dialog", "message")]
        assert leaked == []
    finally:
        await visitor.close()
        await olga.close()


async def test_a_change_of_role_closes_the_socket_and_the_next_one_has_the_new_role(
    hub: str, world: World, db: SessionMaker
) -> None:
    """The frames a socket gets follow the role it opened with (the live load and webhook
    deliveries go to supervisors): a demoted admin's socket closes (4003), and the browser's
    next one is an operator's."""
    async with db() as session, session.begin():
        secret = hash_password("pw-ivan")
        session.add(Operator(login="ivan", name="Ivan", role="admin", password_hash=secret))
    admin = await logged_in(hub, "admin")
    ivan = await logged_in(hub, "ivan")
    try:
        hello = await ivan.open_socket()
        assert hello["operator"]["role"] == "admin"
        ivans_id = hello["operator"]["id"]
        status, _ = await admin.call(
            "PATCH", f"/api/admin/operators/{ivans_id}", {"role": "operator"}
        )
        assert status == 200
        code, _before = await closed_with(ivan)
        assert code == ROLE_CHANGED

        hello = await ivan.open_socket()  # the session lives on: the browser reconnects
        assert hello["operator"]["role"] == "operator"
        assert (await ivan.call("GET", "/api/admin/operators"))[0] == 403
    finally:
        await admin.close()
        await ivan.close()
