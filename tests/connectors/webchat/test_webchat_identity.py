"""A website vouches for its logged-in user through the widget, and the CRM sink running in the
hub makes one client of them across browsers; a forged or unconfigured identity is refused with
``bad_identity`` and the chat goes on anonymously."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from connectors.webchat.identity import sign
from core.db import make_engine, make_sessionmaker
from core.db.crm_schema import CrmContact, CrmLead
from core.db.schema import Dialog
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient

SECRET = "shop-site-secret-0123456789abcdef"
SHOP: dict[str, Any] = {"kind": "webchat", "key": "shop-chat", "name": "Shop", "line_id": 1}


def identity(user_id: str, secret: str = SECRET, **extra: str) -> dict[str, Any]:
    """What the shop's server puts on the page for its logged-in user."""
    ts = int(time.time())
    name, email = extra.get("name", ""), extra.get("email", "")
    out: dict[str, Any] = {
        "id": user_id,
        "ts": ts,
        "signature": sign(secret, user_id, ts, name, email),
    }
    return out | extra


@pytest.fixture
async def chats(hub: str) -> AsyncIterator[dict[str, int]]:
    """Two chats made by an admin: ``shop-chat`` with a site secret, ``plain-chat`` without."""
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    ids: dict[str, int] = {}
    for body in (SHOP | {"config": {"site_secret": SECRET}}, SHOP | {"key": "plain-chat"}):
        status, answer = await admin.call("POST", "/api/admin/channels", body)
        assert status == 201, answer
        ids[body["key"]] = answer["channel"]["id"]
        if body["key"] == "shop-chat":
            # The admin sees only a mask of the secret, never the secret itself.
            assert answer["channel"]["config"]["site_secret"] == "••••" + SECRET[-4:]
    await admin.close()
    yield ids


async def eventually(settings: Settings, check: Callable[[AsyncSession], Any]) -> Any:
    """Poll the database until ``check`` answers something truthy (the sink is asynchronous)."""
    engine = make_engine(settings.effective_database_url)
    try:
        async with asyncio.timeout(10):
            while True:
                async with make_sessionmaker(engine)() as session:
                    found = await check(session)
                if found:
                    return found
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def chat(visitor: VisitorClient, text: str) -> None:
    """Send a message and wait for the hub's echo, i.e. until the router stored it."""
    cid = await visitor.say(text)
    await visitor.receive_until("accepted", client_msg_id=cid)
    await visitor.receive_until("message", client_msg_id=cid)


async def test_the_same_signed_user_in_two_browsers_is_one_client_with_one_lead(
    hub: str, settings: Settings, chats: dict[str, int]
) -> None:
    laptop, phone = VisitorClient(hub, "shop-chat"), VisitorClient(hub, "shop-chat")
    try:
        user = identity("user-42", name="Ivan Petrov", email="ivan@example.com")
        assert (await laptop.connect(identity=user))["type"] == "welcome"
        assert await laptop.receive() == {"type": "identified", "id": "user-42"}
        await chat(laptop, "where is my order?")

        async def site_contact(s: AsyncSession) -> CrmContact | None:
            return await s.scalar(select(CrmContact).where(CrmContact.kind == "site"))

        first = await eventually(settings, site_contact)
        assert first.value == f"{chats['shop-chat']}:user-42" and first.verified

        # Another browser: a new visitor token, the same user signed afresh.
        assert (await phone.connect(identity=identity("user-42")))["type"] == "welcome"
        assert phone.token != laptop.token
        assert (await phone.receive())["type"] == "identified"
        await chat(phone, "any news?")

        async def merged(s: AsyncSession) -> list[Dialog] | None:
            dialogs = list(await s.scalars(select(Dialog).order_by(Dialog.id)))
            one = len(dialogs) == 2 and len({d.client_id for d in dialogs}) == 1
            return dialogs if one else None

        dialogs = await eventually(settings, merged)
        client_id = dialogs[0].client_id

        async def settled(s: AsyncSession) -> list[CrmLead] | None:
            leads = list(await s.scalars(select(CrmLead)))
            contacts = list(await s.scalars(select(CrmContact)))
            done = all(c.client_id == client_id for c in contacts) and len(contacts) == 2
            return leads if done else None

        leads = await eventually(settings, settled)
        assert [lead.client_id for lead in leads] == [client_id]
        assert "Ivan Petrov" in leads[0].title  # the signed name, not "Visitor 1a2b3c"
        # The site signed the email with the id: stored verified, a key the client's mail matches.
        assert await eventually(settings, _contacts) == {
            ("email", "ivan@example.com", True),
            ("site", f"{chats['shop-chat']}:user-42", True),
        }

        # One socket is one site user: another user on it would merge two users' clients.
        assert laptop.ws is not None
        await laptop.ws.send_json({"type": "identify", "identity": identity("user-7")})
        refused = await laptop.receive_until("error")
        assert refused["code"] == "bad_identity" and "another user" in refused["reason"]
    finally:
        await laptop.close()
        await phone.close()


async def _contacts(s: AsyncSession) -> set[tuple[str, str, bool]]:
    rows = await s.scalars(select(CrmContact))
    return {(c.kind, c.value, c.verified) for c in rows}


async def test_a_forged_signature_is_refused_and_the_visitor_stays_a_separate_client(
    hub: str, settings: Settings, chats: dict[str, int]
) -> None:
    honest, forger = VisitorClient(hub, "shop-chat"), VisitorClient(hub, "shop-chat")
    try:
        assert (await honest.connect(identity=identity("user-42")))["type"] == "welcome"
        assert (await honest.receive())["type"] == "identified"
        await chat(honest, "hello, it's me")

        forged = identity("user-42", secret="guessed-secret-0123456789")
        assert (await forger.connect(identity=forged))["type"] == "welcome"
        refused = await forger.receive()
        assert refused["type"] == "error" and refused["code"] == "bad_identity"
        assert refused["reason"] == "the signature does not match"
        # The chat goes on, anonymously.
        await chat(forger, "hello, it's me too")

        async def two(s: AsyncSession) -> list[Dialog] | None:
            dialogs = list(await s.scalars(select(Dialog).order_by(Dialog.id)))
            return dialogs if len(dialogs) == 2 else None

        dialogs = await eventually(settings, two)

        async def both_leads(s: AsyncSession) -> list[CrmLead] | None:
            leads = list(await s.scalars(select(CrmLead)))
            return leads if len(leads) == 2 else None

        await eventually(settings, both_leads)
        await asyncio.sleep(0.5)  # time for a (wrong) merge to show up, were there one

        async def state(s: AsyncSession) -> tuple[set[int], list[CrmLead], list[CrmContact]]:
            return (
                set(await s.scalars(select(Dialog.client_id))),
                list(await s.scalars(select(CrmLead))),
                list(await s.scalars(select(CrmContact).where(CrmContact.kind == "site"))),
            )

        owners, leads, sites = await eventually(settings, state)
        assert owners == {dialogs[0].client_id, dialogs[1].client_id} and len(owners) == 2
        assert len(leads) == 2
        assert [c.client_id for c in sites] == [dialogs[0].client_id]
    finally:
        await honest.close()
        await forger.close()


async def test_a_chat_without_a_site_secret_refuses_identities_and_a_bad_shape_is_named(
    hub: str, chats: dict[str, int]
) -> None:
    visitor = VisitorClient(hub, "plain-chat")
    try:
        assert (await visitor.connect(identity=identity("user-42")))["type"] == "welcome"
        refused = await visitor.receive()
        assert refused["code"] == "bad_identity" and "no site secret" in refused["reason"]
        await chat(visitor, "still here")
        assert visitor.ws is not None
        await visitor.ws.send_json({"type": "identify", "identity": {"id": "user-42"}})
        malformed = await visitor.receive_until("error")
        assert malformed["code"] == "bad_identity"
        assert malformed["reason"].startswith("identity.ts: Field required")
    finally:
        await visitor.close()
