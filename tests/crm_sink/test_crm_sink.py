"""The CRM sink through the bus with a real Redis and database: one client across channels,
leads, transcripts once, weak matches only suggested, merges undone."""

from __future__ import annotations

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from core import streams
from core.db.crm_schema import CrmContact, CrmLead, CrmMerge, CrmNote, CrmProfile
from core.db.schema import Client, ClientIdentity, Dialog, Message, Operator
from core.envelope import (
    ClientHints,
    CloseDialog,
    DialogClosedForCrm,
    DialogOpenedForCrm,
    ReopenDialog,
    utcnow,
)
from crm_sink import responsible_of
from crm_sink.actions import CrmWork, do_merge, do_unmerge
from crm_sink.pushes import Push
from crm_sink.views import duplicates_of
from tests.support.crmhub import CrmHub, crm_hub
from tests.support.querycount import count_queries

PHONE = "+79161234567"


async def _count(hub: CrmHub, model: type) -> int:
    async with hub.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def _dialogs(hub: CrmHub) -> list[Dialog]:
    async with hub.session() as s:
        return list(await s.scalars(select(Dialog).order_by(Dialog.id)))


async def test_verified_phone_on_two_channels_lands_on_one_client_with_one_lead(
    db_url: str, redis_url: str
) -> None:
    async with crm_hub(db_url, redis_url) as hub:
        # Telegram's contact button (the sender's own contact), then the same phone on Viber.
        await hub.say(
            "telegram", "tg-1", "hi", ClientHints(phone="79161234567", phone_verified=True), "Ivan"
        )
        await hub.drain()
        await hub.say(
            "viber", "vb-1", "hello again", ClientHints(phone=PHONE, phone_verified=True), "Ваня"
        )
        await hub.drain()
        dialogs = await _dialogs(hub)
        assert len(dialogs) == 2 and dialogs[0].client_id == dialogs[1].client_id
        async with hub.session() as s:
            identities = list(await s.scalars(select(ClientIdentity)))
            leads = list(await s.scalars(select(CrmLead)))
        assert {i.client_id for i in identities} == {dialogs[0].client_id}
        assert len(leads) == 1 and leads[0].client_id == dialogs[0].client_id
        assert leads[0].channel_kind == "telegram" and leads[0].line_id == hub.line_id
        assert leads[0].responsible_id == hub.operator_id
        assert await _count(hub, CrmMerge) == 1  # recorded, so it can be undone


async def test_same_email_address_on_two_mailboxes_lands_on_one_client(
    db_url: str, redis_url: str
) -> None:
    async with crm_hub(db_url, redis_url) as hub:
        await hub.say("email", "ivan@example.com", "Order?", ClientHints(email="ivan@example.com"))
        await hub.drain()
        await hub.say(
            "email2", "Ivan@Example.COM", "Invoice?", ClientHints(email="Ivan@Example.COM")
        )
        await hub.drain()
        dialogs = await _dialogs(hub)
        assert dialogs[0].client_id == dialogs[1].client_id
        assert await _count(hub, CrmLead) == 1


async def test_weak_match_is_a_suggestion_with_reasons_and_never_a_merge(
    db_url: str, redis_url: str
) -> None:
    async with crm_hub(db_url, redis_url) as hub:
        await hub.say(
            "telegram", "tg-1", "hi", ClientHints(phone=PHONE, phone_verified=True), "Иван Петров"
        )
        await hub.drain()
        # A web-chat visitor types the same phone and a similar name: not proof of anything.
        await hub.say(
            "webchat",
            "visitor-9",
            "my phone is +7 916 123-45-67",
            ClientHints(name="Петров Иван", phone="+7 916 123-45-67"),
            "Петров Иван",
        )
        await hub.drain()
        dialogs = await _dialogs(hub)
        assert dialogs[0].client_id != dialogs[1].client_id
        assert await _count(hub, CrmMerge) == 0
        assert await _count(hub, CrmLead) == 2
        async with hub.session() as s:
            suggestions = await duplicates_of(s, dialogs[1].client_id)
            typed = await s.scalar(
                select(CrmContact).where(CrmContact.client_id == dialogs[1].client_id)
            )
        assert typed is not None and not typed.verified
        assert [x.other_id for x in suggestions] == [dialogs[0].client_id]
        assert set(suggestions[0].fields) == {"phone", "name"}


async def test_transcript_is_attached_once_without_hidden_messages(
    db_url: str, redis_url: str
) -> None:
    async with crm_hub(db_url, redis_url) as hub:
        await hub.say("telegram", "tg-1", "where is my parcel?")
        await hub.drain()
        dialog = (await _dialogs(hub))[0]
        async with hub.session() as s, s.begin():
            s.add(
                Message(
                    dialog_id=dialog.id,
                    channel_id=dialog.channel_id,
                    author="operator",
                    operator_id=hub.operator_id,
                    author_name="Olga",
                    text="colleagues only",
                    hidden=True,
                )
            )
            s.add(
                Message(
                    dialog_id=dialog.id,
                    channel_id=dialog.channel_id,
                    author="operator",
                    operator_id=hub.operator_id,
                    author_name="Olga",
                    text="Here it is",
                    attachments=[
                        {"kind": "file", "url": "https://files.example/t.pdf", "name": "t.pdf"}
                    ],
                )
            )
        await hub.publish(
            streams.COMMANDS, CloseDialog(dialog_id=dialog.id, operator_id=hub.operator_id)
        )
        await hub.drain()
        # The close delivered a second time (a crash before the ack) attaches nothing new.
        await hub.publish(
            streams.CRM, DialogClosedForCrm(dialog_id=dialog.id, client_id=dialog.client_id)
        )
        await hub.drain()
        async with hub.session() as s:
            notes = list(await s.scalars(select(CrmNote)))
        assert len(notes) == 1 and notes[0].kind == "transcript"
        text = notes[0].body["text"]
        assert "where is my parcel?" in text and "Here it is" in text
        assert "colleagues only" not in text
        assert "file: t.pdf https://files.example/t.pdf" in text
        said = [m for m in notes[0].body["messages"] if m["text"] == "Here it is"]
        assert said[0]["files"] == [{"name": "t.pdf", "url": "https://files.example/t.pdf"}]
        assert said[0]["attachments"] == ["https://files.example/t.pdf"]
        assert notes[0].lead_id is not None


async def test_repeated_dialog_opened_never_creates_a_second_lead(
    db_url: str, redis_url: str
) -> None:
    async with crm_hub(db_url, redis_url) as hub:
        await hub.say("telegram", "tg-1")
        await hub.drain()
        dialog = (await _dialogs(hub))[0]
        again = DialogOpenedForCrm(
            dialog_id=dialog.id, client_id=dialog.client_id, line_id=dialog.line_id
        )
        await hub.publish(streams.CRM, again)
        await hub.publish(streams.CRM, again)
        await hub.drain()
        assert await _count(hub, CrmLead) == 1
        async with hub.session() as s:
            assert await responsible_of(s, dialog.client_id) == hub.operator_id


async def test_line_without_lead_creation_attaches_to_the_contact_only(
    db_url: str, redis_url: str
) -> None:
    async with crm_hub(db_url, redis_url, {"crm": {"create_lead": False}}) as hub:
        await hub.say("telegram", "tg-1")
        await hub.drain()
        assert await _count(hub, CrmLead) == 0


async def test_merge_and_unmerge_in_the_database(db_url: str, redis_url: str) -> None:
    async with crm_hub(db_url, redis_url) as hub:
        await hub.say(
            "telegram", "tg-1", "a", ClientHints(phone=PHONE, phone_verified=True), "Ivan Petrov"
        )
        await hub.say("email", "ivan@example.com", "b", ClientHints(email="ivan@example.com"), "")
        await hub.drain()
        first, second = await _dialogs(hub)
        async with hub.session() as s, s.begin():
            merge = await do_merge(
                CrmWork(s, utcnow()), first.client_id, second.client_id, None, "manual"
            )
            main_id, dup_id, merge_id = merge.main_id, merge.dup_id, merge.id
        async with hub.session() as s:
            owners = set(await s.scalars(select(Dialog.client_id)))
            main = await s.get(Client, main_id)
            values = set(
                await s.scalars(select(CrmContact.value).where(CrmContact.client_id == main_id))
            )
        assert owners == {main_id} and values == {PHONE, "ivan@example.com"}
        assert main is not None and main.name == "Ivan Petrov"
        assert await _count(hub, CrmLead) == 2
        # Something arrives on main after the merge: it stays on main.
        await hub.say("telegram", "tg-1", "one more")
        await hub.drain()
        async with hub.session() as s, s.begin():
            await do_unmerge(CrmWork(s, utcnow()), merge_id, None)
        async with hub.session() as s:
            by_dialog = {d.id: d.client_id for d in await s.scalars(select(Dialog))}
            verified = {
                (c.client_id, c.value, c.verified) for c in await s.scalars(select(CrmContact))
            }
        assert by_dialog[first.id] == first.client_id
        assert by_dialog[second.id] == second.client_id
        assert (first.client_id, PHONE, True) in verified
        assert (second.client_id, "ivan@example.com", True) in verified
        assert dup_id in (first.client_id, second.client_id)


class _RecordingAdapter:
    """An external CRM that keeps the key of every push it is handed."""

    name = "recording"

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def push(self, item: Push) -> None:
        self.keys.append(item.key)

    async def close(self) -> None:
        return None


async def test_a_reopened_dialog_closed_again_gets_its_whole_transcript_under_a_new_key(
    db_url: str, redis_url: str
) -> None:
    adapter = _RecordingAdapter()
    async with crm_hub(db_url, redis_url, adapter=adapter) as hub:
        await hub.say("telegram", "tg-1", "where is my parcel?")
        await hub.drain()
        dialog = (await _dialogs(hub))[0]
        close = CloseDialog(dialog_id=dialog.id, operator_id=hub.operator_id)
        await hub.publish(streams.COMMANDS, close)
        await hub.drain()
        async with hub.session() as s, s.begin():
            admin = await s.get(Operator, hub.operator_id)
            assert admin is not None
            admin.role = "admin"
        await hub.publish(
            streams.COMMANDS, ReopenDialog(dialog_id=dialog.id, operator_id=hub.operator_id)
        )
        await hub.drain()
        await hub.say("telegram", "tg-1", "it came broken")
        await hub.drain()
        await hub.publish(streams.COMMANDS, close)
        await hub.drain()
        # The second close delivered twice still makes one second push.
        await hub.publish(
            streams.CRM, DialogClosedForCrm(dialog_id=dialog.id, client_id=dialog.client_id)
        )
        await hub.drain()
        async with hub.session() as s:
            notes = list(await s.scalars(select(CrmNote)))
        assert len(notes) == 1
        text = notes[0].body["text"]
        assert "where is my parcel?" in text and "it came broken" in text
        transcripts = [key for key in adapter.keys if key.startswith("transcript:")]
        assert sorted(set(transcripts)) == [f"transcript:{dialog.id}", f"transcript:{dialog.id}:2"]


async def test_without_an_external_crm_nothing_is_read_to_push(db_url: str, redis_url: str) -> None:
    """The lead and the transcript are stored in the built-in CRM all the same; the contacts
    that only a push carries are not read for nobody."""
    async with crm_hub(db_url, redis_url) as hub:
        assert hub.sink.writer is not None
        await hub.say("telegram", "tg-1", "where is my parcel?")
        await hub.route()
        with count_queries(hub.sink.writer.engine) as opened:
            await hub.drain()
        dialog = (await _dialogs(hub))[0]
        await hub.publish(
            streams.COMMANDS, CloseDialog(dialog_id=dialog.id, operator_id=hub.operator_id)
        )
        await hub.route()
        with count_queries(hub.sink.writer.engine) as closed:
            await hub.drain()
        assert await _count(hub, CrmLead) == 1
        assert await _count(hub, CrmNote) == 1
        for seen in (opened, closed):
            assert not [s for s in seen if "FROM crm_contacts" in s], seen.report()
        # A new client's profile is stored with its responsible, not updated after.
        assert not [s for s in opened if s.startswith("UPDATE crm_profiles")], opened.report()
        async with hub.session() as s:
            profile = await s.get(CrmProfile, dialog.client_id)
        assert profile is not None and profile.responsible_id == dialog.operator_id
        assert dialog.operator_id is not None


async def test_a_new_clients_dialog_is_attached_without_the_unit_of_work(
    db_url: str, redis_url: str
) -> None:
    """Profile, lead and link are each one INSERT on the cursor, and who owns the dialog is one
    read: nothing goes through a flush."""
    flushes: list[list[str]] = []

    def before_flush(session: Session, _context: object, _instances: object) -> None:
        flushes.append(sorted(type(o).__name__ for o in (*session.new, *session.dirty)))

    async with crm_hub(db_url, redis_url) as hub:
        assert hub.sink.writer is not None
        await hub.say("telegram", "tg-1", "where is my parcel?")
        await hub.route()
        event.listen(Session, "before_flush", before_flush)
        try:
            with count_queries(hub.sink.writer.engine) as opened:
                await hub.drain()
        finally:
            event.remove(Session, "before_flush", before_flush)
        assert flushes == [], flushes
        assert len(opened) <= 14, opened.report()
        assert not [s for s in opened if s.startswith("SELECT crm_profiles.merged_into_id")]
        dialog = (await _dialogs(hub))[0]
        async with hub.session() as s:
            lead = await s.scalar(select(CrmLead))
            profile = await s.get(CrmProfile, dialog.client_id)
        assert lead is not None and lead.source_dialog_id == dialog.id
        assert lead.status == "new" and lead.responsible_id == dialog.operator_id
        assert profile is not None and profile.responsible_id == dialog.operator_id
