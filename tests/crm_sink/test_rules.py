"""Pure CRM rules: line settings, which hints are strong keys, required fields, fill-in task
distribution, transcripts, the webhook signature, and the stored merge record."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from core.backoff import Backoff
from core.envelope import ClientHints
from crm_sink.merge import MergeableClient, plan_merge
from crm_sink.merge_record import record_from_json, record_to_json
from crm_sink.rules import (
    LineCrmSettings,
    TranscriptFile,
    TranscriptLine,
    assign_tasks,
    contact_hints,
    line_crm_settings,
    missing_fields,
    transcript_text,
)
from crm_sink.webhook import check_signature, sign

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def test_line_settings_default_to_creating_leads_and_following_transfers() -> None:
    assert line_crm_settings({}) == LineCrmSettings(True, True)
    assert line_crm_settings({"crm": {"create_lead": False}}).create_lead is False
    # A wrong type is a misconfiguration, not a reason to stop creating leads.
    assert line_crm_settings({"crm": {"create_lead": "no"}}).create_lead is True


def test_only_a_verified_phone_is_a_strong_key() -> None:
    shared = contact_hints(
        ClientHints(phone="79161234567", phone_verified=True), "telegram", 1, None
    )
    typed = contact_hints(ClientHints(phone="+7 916 123-45-67"), "webchat", 2, None)
    assert [(h.value, h.strong is not None) for h in shared] == [("+79161234567", True)]
    assert [(h.value, h.strong is not None) for h in typed] == [("+79161234567", False)]


def test_an_unsigned_email_is_strong_only_as_the_sender_of_an_email_dialog() -> None:
    hints = ClientHints(email="Ivan@Example.com")
    assert contact_hints(hints, "email", 3, None)[0].strong is not None
    assert contact_hints(hints, "webchat", 3, None)[0].strong is None


def test_an_email_the_site_signed_is_strong_on_the_web_chat() -> None:
    signed = ClientHints(email="ivan@example.com", email_verified=True, site_identity="user-42")
    email, site = contact_hints(signed, "webchat", 3, None)
    assert email.strong is not None and email.strong.kind == "email_address"
    assert site.strong is not None and site.strong.kind == "site_identity"


def test_site_identity_is_scoped_to_its_channel() -> None:
    (hint,) = contact_hints(ClientHints(site_identity="user-42"), "webchat", 7, None)
    assert hint.kind == "site" and hint.value == "7:user-42" and hint.strong is not None


def test_invalid_contacts_are_dropped() -> None:
    assert contact_hints(ClientHints(phone="12", email="not-an-email"), "webchat", 1, None) == []


def test_national_phone_needs_the_region_setting() -> None:
    assert contact_hints(ClientHints(phone="8 916 123-45-67"), "webchat", 1, None) == []
    (hint,) = contact_hints(ClientHints(phone="8 916 123-45-67"), "webchat", 1, "RU")
    assert hint.value == "+79161234567"


def test_missing_fields_in_the_admins_order() -> None:
    missing = missing_fields(
        {"company": 5, "phone": 10, "custom:inn": 3, "name": 1},
        name="Anna",
        company=" ",
        phones=set(),
        emails={"a@b.ru"},
        custom_fields={"inn": ""},
    )
    assert missing == ["company", "phone", "custom:inn"]


@given(
    st.lists(st.integers(1, 10_000), unique=True, max_size=60),
    st.lists(st.integers(1, 50), unique=True, min_size=1, max_size=7),
)
def test_tasks_are_spread_evenly_among_chosen_operators(
    clients: list[int], operators: list[int]
) -> None:
    given_to = assign_tasks([(c, None) for c in clients], operators)
    assert set(given_to) == set(clients)
    counts = [list(given_to.values()).count(op) for op in operators]
    assert max(counts) - min(counts) <= 1


def test_without_chosen_operators_tasks_go_to_the_responsible() -> None:
    assert assign_tasks([(1, 5), (2, None), (3, 6)], []) == {1: 5, 3: 6}


def test_transcript_lists_attachments_by_name_with_their_links() -> None:
    photo = TranscriptFile("p.jpg", "https://files.example/p.jpg")
    unnamed = TranscriptFile("", "https://files.example/x")
    text = transcript_text(
        [
            TranscriptLine("client", "Ivan", T0, "photo:", (photo, unnamed)),
            TranscriptLine("operator", "Olga", T0, "Got it"),
        ]
    )
    assert text.splitlines() == [
        "[2025-03-01 09:00] Ivan: photo:",
        "    file: p.jpg https://files.example/p.jpg",
        "    file: file https://files.example/x",
        "[2025-03-01 09:00] Olga: Got it",
    ]


def test_webhook_signature_covers_timestamp_and_body() -> None:
    header = sign(b"k", "1700000000", b'{"a":1}')
    assert check_signature(b"k", "1700000000", b'{"a":1}', header)
    assert not check_signature(b"k", "1700000001", b'{"a":1}', header)
    assert not check_signature(b"other", "1700000000", b'{"a":1}', header)


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(attempts=5, first_s=0.5, factor=2, max_s=3)
    assert [backoff.delay(i) for i in range(1, 5)] == [0.5, 1.0, 2.0, 3.0]


def test_merge_record_module_round_trips_a_record() -> None:
    main = MergeableClient(
        client_id=1,
        name="Ivan",
        phones=frozenset({"+79161234567"}),
        dialog_ids=frozenset({10}),
        updated_at=T0,
    )
    dup = MergeableClient(
        client_id=2,
        company="ACME",
        emails=frozenset({"i@acme.io"}),
        dialog_ids=frozenset({11}),
        updated_at=T0,
    )
    record = plan_merge(main, dup, at=T0)
    assert record_from_json(record_to_json(record)) == record
