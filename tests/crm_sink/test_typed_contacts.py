"""What a web chat visitor types in the pre-chat form reaches the CRM as unverified contacts:
it never attaches the visitor to the client who really owns that email or phone, in either
order, and the CRM only suggests the pair as duplicates for an admin to merge."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db.crm_schema import CrmContact, CrmMerge
from core.db.schema import Dialog
from core.envelope import ClientHints
from crm_sink.views import client_card, duplicates_of
from tests.support.crmhub import CrmHub, crm_hub

pytestmark = pytest.mark.parametrize("redis_server", ["7"], indirect=True)

EMAIL = "ivan@example.com"
PHONE = "+79161234567"


async def _client_of(hub: CrmHub, channel: str) -> int:
    async with hub.session() as s:
        client_id = await s.scalar(
            select(Dialog.client_id)
            .where(Dialog.channel_id == hub.channels[channel])
            .order_by(Dialog.id.desc())
            .limit(1)
        )
    assert client_id is not None
    return int(client_id)


async def _merges(hub: CrmHub) -> int:
    async with hub.session() as s:
        return int(await s.scalar(select(func.count()).select_from(CrmMerge)) or 0)


async def _prechat(hub: CrmHub, visitor: str, email: str = EMAIL) -> None:
    """A visitor's first message with the form's answers, as the web chat sends it."""
    typed = ClientHints(name="Ivan", email=email, phone=PHONE)
    await hub.say("webchat", visitor, "hello", typed, "Ivan")
    await hub.drain()


async def test_a_typed_email_and_phone_of_a_known_client_are_only_a_suggestion(
    sqlite_url: str, redis_url: str
) -> None:
    async with crm_hub(sqlite_url, redis_url) as hub:
        await hub.say("email", EMAIL, "Order?", ClientHints(email=EMAIL), "Ivan")
        await hub.say("telegram", "tg-1", "hi", ClientHints(phone=PHONE, phone_verified=True))
        await hub.drain()
        by_mail, by_phone = await _client_of(hub, "email"), await _client_of(hub, "telegram")

        await _prechat(hub, "visitor-1")
        visitor = await _client_of(hub, "webchat")
        assert visitor not in (by_mail, by_phone)
        assert await _merges(hub) == 0
        async with hub.session() as s:
            card = await client_card(s, visitor)
            owner = await client_card(s, by_mail)
            suggestions = {d.other_id: set(d.fields) for d in await duplicates_of(s, visitor)}
        assert card is not None and owner is not None
        assert card["emails"] == [{"value": EMAIL, "verified": False}]
        assert card["phones"] == [{"value": PHONE, "verified": False}]
        assert owner["emails"] == [{"value": EMAIL, "verified": True}]
        assert "email" in suggestions[by_mail] and "phone" in suggestions[by_phone]

        # A second visitor typing the same address joins neither the first nor the owner.
        await _prechat(hub, "visitor-2")
        assert (await _client_of(hub, "webchat")) not in (visitor, by_mail, by_phone)
        assert await _merges(hub) == 0


async def test_the_owner_writing_after_a_visitor_typed_their_email_is_not_merged_into_it(
    sqlite_url: str, redis_url: str
) -> None:
    async with crm_hub(sqlite_url, redis_url) as hub:
        await _prechat(hub, "visitor-1")
        visitor = await _client_of(hub, "webchat")
        # The address's owner writes from their mailbox: a verified key, but only the
        # visitor's typed copy holds it, and a typed copy never pulls a verified owner in.
        await hub.say("email", EMAIL, "Order?", ClientHints(email=EMAIL), "Ivan")
        await hub.drain()
        by_mail = await _client_of(hub, "email")
        assert by_mail != visitor and await _merges(hub) == 0
        async with hub.session() as s:
            rows = {
                (c.client_id, c.verified)
                for c in await s.scalars(select(CrmContact).where(CrmContact.value == EMAIL))
            }
            suggestions = [d.other_id for d in await duplicates_of(s, by_mail)]
        assert rows == {(visitor, False), (by_mail, True)}
        assert suggestions == [visitor]
