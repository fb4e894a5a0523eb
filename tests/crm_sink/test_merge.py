"""Merge and unmerge rules on plain data, with property tests of the round trip."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_sink.merge import (
    FieldConflict,
    FilledField,
    MergeableClient,
    apply_unmerge,
    choose_main,
    plan_merge,
)
from crm_sink.merge_record import record_from_json, record_to_json

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
LINKS = ("dialog_ids", "identity_ids", "lead_ids", "note_ids")
_T = TypeVar("_T", str, int)

# A client who wrote from Telegram, and the same person who later emailed from work.
TELEGRAM_IVAN = MergeableClient(
    client_id=10,
    name="Иван Петров",
    phones=frozenset({"+79161234567"}),
    custom_fields={"source": "telegram", "city": ""},
    dialog_ids=frozenset({100, 101}),
    identity_ids=frozenset({500}),
    lead_ids=frozenset({700}),
    updated_at=T0,
)
EMAIL_IVAN = MergeableClient(
    client_id=11,
    name="Petrov Ivan",
    company="ООО «Ромашка»",
    responsible_id=3,
    phones=frozenset({"+79161234567", "+74951234567"}),
    emails=frozenset({"i.petrov@romashka.ru"}),
    custom_fields={"source": "email", "city": "Москва", "inn": "7701234567"},
    dialog_ids=frozenset({102}),
    identity_ids=frozenset({501}),
    note_ids=frozenset({900}),
    updated_at=T0 + timedelta(days=2),
)


# --- choosing the main record ---------------------------------------------------------


def test_main_is_the_record_with_more_dialogs_and_leads() -> None:
    # Telegram Ivan has 3 links (2 dialogs, 1 lead) against 1, though email Ivan is newer.
    assert choose_main(EMAIL_IVAN, TELEGRAM_IVAN) == (TELEGRAM_IVAN, EMAIL_IVAN)


def test_identities_and_notes_do_not_count_as_links() -> None:
    a = MergeableClient(client_id=1, dialog_ids=frozenset({1}), updated_at=T0)
    b = MergeableClient(
        client_id=2, identity_ids=frozenset({5, 6}), note_ids=frozenset({7}), updated_at=T0
    )
    assert choose_main(b, a)[0] is a


def test_equal_links_most_recently_changed_wins() -> None:
    old = MergeableClient(client_id=1, lead_ids=frozenset({1}), updated_at=T0)
    new = MergeableClient(client_id=2, dialog_ids=frozenset({2}), updated_at=T0 + timedelta(1))
    assert choose_main(old, new)[0] is new


def test_equal_links_and_time_most_complete_wins() -> None:
    sparse = MergeableClient(client_id=1, name="Иван", updated_at=T0)
    full = MergeableClient(
        client_id=2, name="Иван", emails=frozenset({"ivan@example.com"}), updated_at=T0
    )
    assert choose_main(sparse, full)[0] is full


def test_complete_tie_keeps_the_older_record() -> None:
    a = MergeableClient(client_id=7, name="Иван", updated_at=T0)
    b = MergeableClient(client_id=3, name="Иван", updated_at=T0)
    assert choose_main(a, b) == (b, a)


def test_a_client_cannot_be_merged_with_itself() -> None:
    with pytest.raises(ValueError, match="itself"):
        choose_main(TELEGRAM_IVAN, TELEGRAM_IVAN)
    with pytest.raises(ValueError, match="itself"):
        plan_merge(TELEGRAM_IVAN, TELEGRAM_IVAN)


# --- the merge ------------------------------------------------------------------------


def test_merge_unites_contacts_fills_gaps_and_keeps_mains_conflicting_values() -> None:
    at = T0 + timedelta(days=3)
    record = plan_merge(TELEGRAM_IVAN, EMAIL_IVAN, at=at)
    merged = record.merged
    assert merged.client_id == 10
    assert merged.name == "Иван Петров"
    assert merged.company == "ООО «Ромашка»"
    assert merged.responsible_id == 3
    assert merged.phones == {"+79161234567", "+74951234567"}
    assert merged.emails == {"i.petrov@romashka.ru"}
    assert dict(merged.custom_fields) == {
        "source": "telegram",
        "city": "Москва",
        "inn": "7701234567",
    }
    assert merged.dialog_ids == {100, 101, 102}
    assert merged.identity_ids == {500, 501}
    assert merged.lead_ids == {700}
    assert merged.note_ids == {900}
    assert merged.updated_at == at
    assert record.filled == (
        FilledField("company", "ООО «Ромашка»"),
        FilledField("responsible_id", 3),
        FilledField("custom:city", "Москва"),
        FilledField("custom:inn", "7701234567"),
    )
    assert record.conflicts == (
        FieldConflict("name", "Иван Петров", "Petrov Ivan"),
        FieldConflict("custom:source", "telegram", "email"),
    )
    # Only the phone main lacked counts as moved; every link of the duplicate moves.
    assert record.moved.phones == {"+74951234567"}
    assert record.moved.dialog_ids == {102}
    assert record.moved.identity_ids == {501}
    assert record.moved.note_ids == {900}
    assert (record.main_before, record.dup_before) == (TELEGRAM_IVAN, EMAIL_IVAN)


def test_merge_without_a_clock_keeps_the_later_change_time() -> None:
    assert plan_merge(TELEGRAM_IVAN, EMAIL_IVAN).merged.updated_at == EMAIL_IVAN.updated_at


def test_blank_values_of_the_duplicate_fill_nothing() -> None:
    main = MergeableClient(client_id=1, name="Иван", updated_at=T0)
    dup = MergeableClient(client_id=2, name="  ", custom_fields={"city": ""}, updated_at=T0)
    record = plan_merge(main, dup)
    assert record.merged == main
    assert record.filled == ()
    assert record.conflicts == ()


def test_equal_values_are_neither_filled_nor_conflicts() -> None:
    main = MergeableClient(client_id=1, name="Иван Петров", responsible_id=3, updated_at=T0)
    dup = MergeableClient(client_id=2, name="Иван Петров", responsible_id=3, updated_at=T0)
    record = plan_merge(main, dup)
    assert (record.filled, record.conflicts) == ((), ())


def test_clients_sharing_a_dialog_are_refused() -> None:
    dup = replace(EMAIL_IVAN, dialog_ids=frozenset({101}))
    with pytest.raises(ValueError, match="dialog_ids"):
        plan_merge(TELEGRAM_IVAN, dup)


def test_client_needs_an_aware_change_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        MergeableClient(client_id=1, updated_at=datetime(2025, 3, 1, 9, 0))


def test_client_custom_fields_cannot_be_changed_through_the_callers_dict() -> None:
    fields = {"city": "Москва"}
    client = MergeableClient(client_id=1, custom_fields=fields, updated_at=T0)
    fields["city"] = "Тверь"
    assert client.custom_fields["city"] == "Москва"


# --- unmerge --------------------------------------------------------------------------


def test_unmerge_right_after_merge_restores_both_clients() -> None:
    record = plan_merge(TELEGRAM_IVAN, EMAIL_IVAN, at=T0 + timedelta(days=3))
    assert apply_unmerge(record, record.merged) == (TELEGRAM_IVAN, EMAIL_IVAN)


def test_unmerge_keeps_what_was_added_to_main_after_the_merge() -> None:
    record = plan_merge(TELEGRAM_IVAN, EMAIL_IVAN, at=T0 + timedelta(days=3))
    later = T0 + timedelta(days=5)
    main_now = replace(
        record.merged,
        phones=record.merged.phones | {"+447911123456"},
        dialog_ids=record.merged.dialog_ids | {103},
        identity_ids=record.merged.identity_ids | {502},
        custom_fields={**record.merged.custom_fields, "vip": "yes"},
        company="ООО «Ромашка Плюс»",  # an operator corrected the filled company
        updated_at=later,
    )
    main, dup = apply_unmerge(record, main_now)
    assert dup == EMAIL_IVAN
    assert main == replace(
        TELEGRAM_IVAN,
        phones=TELEGRAM_IVAN.phones | {"+447911123456"},
        dialog_ids=TELEGRAM_IVAN.dialog_ids | {103},
        identity_ids=TELEGRAM_IVAN.identity_ids | {502},
        custom_fields={**TELEGRAM_IVAN.custom_fields, "vip": "yes"},
        company="ООО «Ромашка Плюс»",
        updated_at=later,
    )


def test_unmerge_does_not_resurrect_a_note_deleted_after_the_merge() -> None:
    record = plan_merge(TELEGRAM_IVAN, EMAIL_IVAN)
    main_now = replace(record.merged, note_ids=frozenset(), updated_at=T0 + timedelta(days=9))
    main, dup = apply_unmerge(record, main_now)
    assert dup == replace(EMAIL_IVAN, note_ids=frozenset())
    assert main.note_ids == frozenset()


def test_unmerge_of_an_earlier_merge_keeps_a_later_merges_gains() -> None:
    third = MergeableClient(
        client_id=12, emails=frozenset({"ivan@gmail.com"}), lead_ids=frozenset({701}), updated_at=T0
    )
    first = plan_merge(TELEGRAM_IVAN, EMAIL_IVAN, at=T0 + timedelta(days=3))
    second = plan_merge(first.merged, third, at=T0 + timedelta(days=4))
    main, dup = apply_unmerge(first, second.merged)
    assert dup == EMAIL_IVAN
    assert main.emails == {"ivan@gmail.com"}
    assert main.lead_ids == {700, 701}
    assert main.dialog_ids == TELEGRAM_IVAN.dialog_ids


def test_unmerge_refuses_another_clients_state() -> None:
    record = plan_merge(TELEGRAM_IVAN, EMAIL_IVAN)
    with pytest.raises(ValueError, match="client 10"):
        apply_unmerge(record, EMAIL_IVAN)


# --- the stored record ----------------------------------------------------------------


def test_record_round_trips_through_json() -> None:
    record = plan_merge(TELEGRAM_IVAN, EMAIL_IVAN, at=T0 + timedelta(days=3))
    text = record_to_json(record)
    assert record_from_json(text) == record
    assert record_to_json(record_from_json(text)) == text
    assert "Ромашка" in text  # stored readable, not \\u-escaped
    assert json.loads(text)["moved"]["dialog_ids"] == [102]


def test_record_keeps_a_non_utc_offset() -> None:
    moscow = timezone(timedelta(hours=3))
    main = replace(TELEGRAM_IVAN, updated_at=datetime(2025, 3, 1, 12, 0, tzinfo=moscow))
    record = plan_merge(main, EMAIL_IVAN)
    assert record_from_json(record_to_json(record)).main_before.updated_at.utcoffset() == (
        timedelta(hours=3)
    )


def _broken(path: tuple[str | int, ...], value: object) -> str:
    document = json.loads(record_to_json(plan_merge(TELEGRAM_IVAN, EMAIL_IVAN)))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(document)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("version",), 2, "unsupported version"),
        (("merged",), [], "merged: expected an object"),
        (("dup_before", "client_id"), True, "dup_before.client_id: expected an integer"),
        (("main_before", "phones"), "+79161234567", "main_before.phones: expected a list"),
        (("moved", "dialog_ids"), ["102"], "moved.dialog_ids: expected an integer"),
        (("main_before", "updated_at"), "yesterday", "main_before.updated_at"),
        (("main_before", "updated_at"), "2025-03-01T09:00:00", "timezone-aware"),
        (("filled", 0), "company", r"filled\[0\]: expected an object"),
        (("conflicts", 0, "dup_value"), 1.5, r"conflicts\[0\]: expected an integer"),
    ],
)
def test_malformed_record_is_rejected_with_the_path(
    path: tuple[str | int, ...], value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        record_from_json(_broken(path, value))


def test_record_that_is_not_json_is_rejected() -> None:
    with pytest.raises(ValueError):
        record_from_json("{not json")


# --- properties -----------------------------------------------------------------------

_names = st.sampled_from(["", "  ", "Иван Петров", "Petrov Ivan", "Пётр", "Anna Smith"]) | st.text(
    max_size=12
)
_times = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
_phones = st.frozensets(st.sampled_from(["+79161234567", "+74951234567", "+493012345678"]))
_emails = st.frozensets(st.sampled_from(["ivan@example.com", "ivan@почта.рф", "a@b.de"]))
_custom = st.dictionaries(
    st.sampled_from(["city", "inn", "source", "custom:x"]), st.sampled_from(["", "Москва", "42"])
)


def _subset(data: st.DataObject, items: frozenset[_T]) -> frozenset[_T]:
    return frozenset(data.draw(st.sets(st.sampled_from(sorted(items))))) if items else items


@st.composite
def client_pairs(draw: st.DrawFn) -> tuple[MergeableClient, MergeableClient]:
    """Two different clients whose links are disjoint, as they are in the database."""
    ids = draw(st.lists(st.integers(1, 10**6), min_size=2, max_size=2, unique=True))
    links: list[dict[str, frozenset[int]]] = [{}, {}]
    for kind in LINKS:
        pool = draw(st.lists(st.integers(1, 999), unique=True, max_size=6))
        cut = draw(st.integers(0, len(pool)))
        links[0][kind], links[1][kind] = frozenset(pool[:cut]), frozenset(pool[cut:])
    clients = tuple(
        MergeableClient(
            client_id=client_id,
            name=draw(_names),
            company=draw(st.sampled_from(["", "ООО «Ромашка»", "Acme GmbH"])),
            responsible_id=draw(st.none() | st.integers(1, 5)),
            custom_fields=draw(_custom),
            phones=draw(_phones),
            emails=draw(_emails),
            updated_at=draw(_times),
            **own_links,
        )
        for client_id, own_links in zip(ids, links, strict=True)
    )
    return clients[0], clients[1]


@given(client_pairs(), st.none() | _times)
def test_merge_then_unmerge_restores_both_clients_exactly(
    pair: tuple[MergeableClient, MergeableClient], at: datetime | None
) -> None:
    main, dup = choose_main(*pair)
    record = plan_merge(main, dup, at=at)
    assert apply_unmerge(record, record.merged) == (main, dup)
    stored = record_from_json(record_to_json(record))
    assert stored == record
    assert apply_unmerge(stored, stored.merged) == (main, dup)


@given(client_pairs(), st.data())
def test_additions_after_merge_stay_on_main_and_the_rest_is_restored(
    pair: tuple[MergeableClient, MergeableClient], data: st.DataObject
) -> None:
    main, dup = choose_main(*pair)
    record = plan_merge(main, dup)
    merged = record.merged
    new_phones = data.draw(st.frozensets(st.sampled_from(["+447911123456", "+4915123456789"])))
    new_emails = data.draw(st.frozensets(st.sampled_from(["new@example.com", "x@y.ru"])))
    new_links = {kind: data.draw(st.frozensets(st.integers(1000, 1999))) for kind in LINKS}
    new_custom = data.draw(st.dictionaries(st.sampled_from(["vip", "segment"]), st.text()))
    new_name = data.draw(st.none() | _names.filter(lambda name: name != merged.name))
    new_company = data.draw(st.none() | st.text().filter(lambda text: text != merged.company))
    later = merged.updated_at + data.draw(st.timedeltas(timedelta(seconds=1), timedelta(days=99)))
    main_now = replace(
        merged,
        name=merged.name if new_name is None else new_name,
        company=merged.company if new_company is None else new_company,
        phones=merged.phones | new_phones,
        emails=merged.emails | new_emails,
        custom_fields={**merged.custom_fields, **new_custom},
        updated_at=later,
        **{kind: getattr(merged, kind) | new_links[kind] for kind in LINKS},
    )

    main_after, dup_after = apply_unmerge(record, main_now)

    assert dup_after == dup
    assert main_after == replace(
        main,
        name=main.name if new_name is None else new_name,
        company=main.company if new_company is None else new_company,
        phones=main.phones | new_phones,
        emails=main.emails | new_emails,
        custom_fields={**main.custom_fields, **new_custom},
        updated_at=later,
        **{kind: getattr(main, kind) | new_links[kind] for kind in LINKS},
    )


@given(client_pairs(), st.data())
def test_edits_and_removals_after_merge_are_respected_by_unmerge(
    pair: tuple[MergeableClient, MergeableClient], data: st.DataObject
) -> None:
    main, dup = choose_main(*pair)
    record = plan_merge(main, dup)
    merged = record.merged

    removed_phones = _subset(data, merged.phones)
    removed_emails = _subset(data, merged.emails)
    removed_links = {kind: _subset(data, getattr(merged, kind)) for kind in LINKS}
    # An operator edits some custom fields, filled by the merge or not, to a new value.
    edited: dict[str, str] = {}
    for key, value in merged.custom_fields.items():
        if data.draw(st.booleans()):
            edited[key] = value + data.draw(st.text(min_size=1))
    main_now = replace(
        merged,
        phones=merged.phones - removed_phones,
        emails=merged.emails - removed_emails,
        custom_fields={**merged.custom_fields, **edited},
        updated_at=merged.updated_at + timedelta(minutes=1),
        **{kind: getattr(merged, kind) - removed_links[kind] for kind in LINKS},
    )

    main_after, dup_after = apply_unmerge(record, main_now)

    # Links that left main are not taken back; the duplicate's own contacts all return.
    assert dup_after == replace(
        dup, **{kind: getattr(dup, kind) - removed_links[kind] for kind in LINKS}
    )
    assert main_after == replace(
        main,
        phones=main.phones - removed_phones,
        emails=main.emails - removed_emails,
        custom_fields={**main.custom_fields, **edited},
        updated_at=main_now.updated_at,
        **{kind: getattr(main, kind) - removed_links[kind] for kind in LINKS},
    )


@given(client_pairs())
def test_choice_of_main_does_not_depend_on_argument_order(
    pair: tuple[MergeableClient, MergeableClient],
) -> None:
    a, b = pair
    chosen = choose_main(a, b)
    assert chosen == choose_main(b, a)
    assert {chosen[0].client_id, chosen[1].client_id} == {a.client_id, b.client_id}
    main, dup = chosen
    assert main.link_count >= dup.link_count
    if main.link_count == dup.link_count:
        assert main.updated_at >= dup.updated_at


@given(client_pairs())
def test_merge_loses_no_contact_or_link(pair: tuple[MergeableClient, MergeableClient]) -> None:
    main, dup = choose_main(*pair)
    merged = plan_merge(main, dup).merged
    assert merged.phones == main.phones | dup.phones
    assert merged.emails == main.emails | dup.emails
    for kind in LINKS:
        assert getattr(merged, kind) == getattr(main, kind) | getattr(dup, kind)
