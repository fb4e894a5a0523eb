"""External CRM adapters against local peers: Bitrix24 REST and a signed outgoing webhook.
A repeated event never creates a second lead or a second delivery."""

from __future__ import annotations

from sqlalchemy import delete, select

from core import streams
from core.backoff import Backoff
from core.db.crm_schema import CrmExternalRef
from core.db.schema import Dialog
from core.envelope import ClientHints, CloseDialog, DialogOpenedForCrm
from crm_sink.bitrix24 import Bitrix24Adapter
from crm_sink.pushes import ExternalRefs
from crm_sink.webhook import WebhookAdapter
from tests.support.crm_peers import TOKEN, Bitrix24Peer, WebhookReceiver, serve
from tests.support.crmhub import crm_hub

PHONE = "+79161234567"


async def test_bitrix24_gets_one_lead_and_the_transcript_on_it(
    sqlite_url: str, redis_url: str
) -> None:
    peer = Bitrix24Peer()
    async with serve(peer) as base, crm_hub(sqlite_url, redis_url) as hub:
        adapter = Bitrix24Adapter(f"{base}/rest/{TOKEN}/", ExternalRefs(hub.sessions, "bitrix24"))
        hub.sink.adapter = adapter
        await hub.say(
            "telegram", "tg-1", "hi", ClientHints(phone=PHONE, phone_verified=True), "Ivan"
        )
        await hub.drain()
        async with hub.session() as s:
            dialog = (await s.scalars(select(Dialog))).one()
        again = DialogOpenedForCrm(
            dialog_id=dialog.id, client_id=dialog.client_id, line_id=dialog.line_id
        )
        await hub.publish(streams.CRM, again)
        await hub.publish(streams.COMMANDS, CloseDialog(dialog_id=dialog.id))
        await hub.drain()
        await adapter.close()
    assert len(peer.leads) == 1
    lead = peer.leads[1]
    assert lead["PHONE"] == [{"VALUE": PHONE, "VALUE_TYPE": "WORK"}]
    assert lead["ORIGINATOR_ID"] == "openlines" and "telegram" in lead["SOURCE_DESCRIPTION"]
    assert len(peer.comments) == 1 and peer.comments[0]["ENTITY_TYPE"] == "lead"
    assert "hi" in peer.comments[0]["COMMENT"]


async def test_bitrix24_lead_lost_between_add_and_record_is_found_not_duplicated(
    sqlite_url: str, redis_url: str
) -> None:
    peer = Bitrix24Peer()
    async with serve(peer) as base, crm_hub(sqlite_url, redis_url) as hub:
        await hub.say("telegram", "tg-1", "hi")
        await hub.drain()
        refs = ExternalRefs(hub.sessions, "bitrix24")
        adapter = Bitrix24Adapter(f"{base}/rest/{TOKEN}/", refs)
        hub.sink.adapter = adapter
        async with hub.session() as s:
            dialog = (await s.scalars(select(Dialog))).one()
        event = DialogOpenedForCrm(
            dialog_id=dialog.id, client_id=dialog.client_id, line_id=dialog.line_id
        )
        await hub.publish(streams.CRM, event)
        await hub.drain()
        # As if the process died after crm.lead.add but before recording its id.
        async with hub.session() as s, s.begin():
            await s.execute(delete(CrmExternalRef))
        await hub.publish(streams.CRM, event)
        await hub.drain()
        await adapter.close()
    assert len(peer.leads) == 1


async def test_webhook_is_signed_retried_until_acknowledged_and_sent_once(
    sqlite_url: str, redis_url: str
) -> None:
    receiver = WebhookReceiver(secret=b"hook-secret", fail_first=2)
    async with serve(receiver) as base, crm_hub(sqlite_url, redis_url) as hub:
        adapter = WebhookAdapter(
            f"{base}/hook",
            b"hook-secret",
            ExternalRefs(hub.sessions, "webhook"),
            Backoff(attempts=4, first_s=0.01, max_s=0.05),
        )
        hub.sink.adapter = adapter
        await hub.say("email", "ivan@example.com", "hello", ClientHints(email="ivan@example.com"))
        await hub.drain()
        async with hub.session() as s:
            dialog = (await s.scalars(select(Dialog))).one()
        await hub.publish(
            streams.CRM,
            DialogOpenedForCrm(
                dialog_id=dialog.id, client_id=dialog.client_id, line_id=dialog.line_id
            ),
        )
        await hub.drain()
        await adapter.close()
    assert receiver.attempts == 3  # two refusals, then acknowledged; the repeat sends nothing
    assert [r["event"] for r in receiver.received] == ["lead.created"]
    data = receiver.received[0]["data"]
    assert data["emails"] == ["ivan@example.com"] and data["source"]["channel"] == "email"
