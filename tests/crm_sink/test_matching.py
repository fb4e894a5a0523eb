"""Automatic matching on strong keys, and duplicate suggestions with their reasons."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from crm_sink.matching import ClientRecord, StrongKey, find_duplicates, match_strong

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def client(
    client_id: int,
    name: str = "",
    *,
    company: str = "",
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    site_identities: Iterable[str] = (),
) -> ClientRecord:
    return ClientRecord(
        client_id=client_id,
        name=name,
        company=company,
        phones=frozenset(phones),
        emails=frozenset(emails),
        site_identities=frozenset(site_identities),
        updated_at=NOW,
    )


IVAN = client(
    1,
    "Иван Петров",
    phones={"+79161234567"},
    emails={"ivan.petrov@yandex.ru"},
    site_identities={"widget-1:user-42"},
)
ANNA = client(2, "Анна Смирнова", phones={"+4930123456"})
OLGA = client(3, "Ольга Кузнецова", emails={"olga@example.com"})


# --- match_strong ----------------------------------------------------------------------


def test_telegram_contact_phone_matches_the_client_with_that_phone() -> None:
    # Telegram sends the shared contact's phone without the "+".
    assert match_strong(StrongKey("verified_phone", "79161234567"), [ANNA, IVAN, OLGA]) == 1
    assert match_strong(StrongKey("verified_phone", "+7 916 123-45-67"), [IVAN]) == 1


def test_email_dialog_address_matches_in_any_case() -> None:
    key = StrongKey("email_address", "  Ivan.Petrov@YANDEX.ru ")
    assert match_strong(key, [ANNA, IVAN, OLGA]) == 1


def test_signed_site_identity_matches_exactly() -> None:
    assert match_strong(StrongKey("site_identity", "widget-1:user-42"), [IVAN, ANNA]) == 1
    # The same user id on another site is another person.
    assert match_strong(StrongKey("site_identity", "widget-2:user-42"), [IVAN, ANNA]) is None


def test_no_owner_means_no_match() -> None:
    assert match_strong(StrongKey("verified_phone", "+447911123456"), [IVAN, ANNA]) is None
    assert match_strong(StrongKey("email_address", "nobody@example.com"), [IVAN]) is None
    assert match_strong(StrongKey("verified_phone", "+79161234567"), []) is None


def test_key_that_does_not_normalise_matches_nothing() -> None:
    assert match_strong(StrongKey("verified_phone", "12345"), [IVAN]) is None
    assert match_strong(StrongKey("email_address", "not an email"), [IVAN]) is None
    assert match_strong(StrongKey("site_identity", ""), [IVAN]) is None


def test_key_held_by_two_clients_is_ambiguous_and_not_matched() -> None:
    twin = client(9, "Мария Петрова", phones={"+79161234567"})
    assert match_strong(StrongKey("verified_phone", "79161234567"), [IVAN, twin]) is None


def test_same_name_is_never_an_automatic_match() -> None:
    # A name is not a StrongKey kind at all; a site identity equal to a name matches nothing.
    assert match_strong(StrongKey("site_identity", "Иван Петров"), [IVAN]) is None


# --- find_duplicates -------------------------------------------------------------------


def test_shared_phone_is_suggested_with_the_phone_as_reason() -> None:
    newcomer = client(10, "Ваня", phones={"+79161234567"})
    [suggestion] = find_duplicates(newcomer, [IVAN, ANNA, OLGA], frozenset())
    assert (suggestion.client_id, suggestion.other_id) == (10, 1)
    assert suggestion.fields == ("phone",)
    assert suggestion.matches[0].reason == "phone +79161234567"
    assert suggestion.shares_contact


def test_all_matching_fields_are_reported_with_reasons() -> None:
    me = client(
        10,
        "Петров Иван",
        company="ООО «Ромашка»",
        phones={"+79161234567", "+74951234567"},
        emails={"ivan.petrov@yandex.ru"},
    )
    other = client(
        11,
        "Иван Петров",
        company="Ромашка",
        phones={"+74951234567", "+79161234567"},
        emails={"ivan.petrov@yandex.ru", "ip@romashka.ru"},
    )
    [suggestion] = find_duplicates(me, [other], frozenset())
    reasons = {match.field: match.reason for match in suggestion.matches}
    assert reasons == {
        "phone": "phone +74951234567, +79161234567",
        "email": "email ivan.petrov@yandex.ru",
        "name": "name 'Петров Иван' ~ 'Иван Петров' (100)",
        "company": "company 'ООО «Ромашка»' = 'Ромашка'",
    }


def test_similar_name_alone_is_a_weak_suggestion() -> None:
    me = client(10, "Ivan Petrov")
    others = [client(11, "Ivan Petrov."), client(12, "Ivan Petrova"), client(13, "Ivan Sidorov")]
    suggestions = find_duplicates(me, others, frozenset())
    assert [s.other_id for s in suggestions] == [11, 12]
    assert suggestions[0].matches[0].reason == "name 'Ivan Petrov' ~ 'Ivan Petrov.' (100)"
    assert suggestions[1].matches[0].reason == "name 'Ivan Petrov' ~ 'Ivan Petrova' (96)"
    assert not any(s.shares_contact for s in suggestions)


def test_yo_and_e_spellings_are_the_same_name() -> None:
    [suggestion] = find_duplicates(
        client(10, "Семён Фёдоров"), [client(11, "Семен Федоров")], frozenset()
    )
    assert suggestion.matches[0].score == 100


def test_word_order_and_a_missing_patronymic_do_not_hide_a_name() -> None:
    me = client(10, "Иван Петров")
    others = [client(11, "Петров Иван Сергеевич"), client(12, "Иван Сидоров")]
    [suggestion] = find_duplicates(me, others, frozenset())
    assert suggestion.other_id == 11
    assert suggestion.matches[0].reason == "name 'Иван Петров' ~ 'Петров Иван Сергеевич' (100)"


def test_lone_first_names_are_not_suggested() -> None:
    assert find_duplicates(client(10, "Иван"), [client(11, "Иван")], frozenset()) == []


def test_company_alone_is_not_a_suggestion() -> None:
    me = client(10, "Иван Петров", company="ООО Ромашка")
    colleague = client(11, "Анна Смирнова", company="Ромашка ООО")
    assert find_duplicates(me, [colleague], frozenset()) == []


def test_name_threshold_is_honoured() -> None:
    me, other = client(10, "Ivan Petrov"), client(11, "Ivan Petrova")
    assert find_duplicates(me, [other], frozenset(), name_threshold=97) == []
    assert len(find_duplicates(me, [other], frozenset(), name_threshold=95)) == 1


def test_suggestions_are_ranked_strongest_first() -> None:
    me = client(
        10,
        "Иван Петров",
        phones={"+79161234567"},
        emails={"ivan@example.com"},
    )
    name_only = client(11, "Иван Петров")
    phone_only = client(12, "Другой Человек", phones={"+79161234567"})
    phone_and_email = client(13, "Ещё Кто-то", phones={"+79161234567"}, emails={"ivan@example.com"})
    suggestions = find_duplicates(me, [name_only, phone_only, phone_and_email], frozenset())
    assert [s.other_id for s in suggestions] == [13, 12, 11]
    assert suggestions[0].strength > suggestions[1].strength > suggestions[2].strength


def test_pair_marked_not_a_duplicate_is_not_suggested_again() -> None:
    newcomer = client(10, "Иван Петров", phones={"+79161234567"})
    assert [s.other_id for s in find_duplicates(newcomer, [IVAN], frozenset())] == [1]
    assert find_duplicates(newcomer, [IVAN], frozenset({frozenset({1, 10})})) == []


def test_client_is_not_its_own_duplicate() -> None:
    assert find_duplicates(IVAN, [IVAN], frozenset()) == []


# --- properties ------------------------------------------------------------------------

_PHONES = ["+79161234567", "+74951234567", "+493012345678", "+442079460958"]
_EMAILS = ["ivan@example.com", "anna@example.com", "olga@yandex.ru"]
_NAMES = ["Иван Петров", "Петров Иван", "Пётр Иванов", "Ivan Petrov", "Анна", "", "Anna Smith"]
_COMPANIES = ["", "ООО Ромашка", "Ромашка", "Acme GmbH"]


@st.composite
def client_records(draw: st.DrawFn, client_id: int) -> ClientRecord:
    return client(
        client_id,
        draw(st.sampled_from(_NAMES)),
        company=draw(st.sampled_from(_COMPANIES)),
        phones=draw(st.lists(st.sampled_from(_PHONES), max_size=2)),
        emails=draw(st.lists(st.sampled_from(_EMAILS), max_size=2)),
    )


@st.composite
def populations(draw: st.DrawFn) -> list[ClientRecord]:
    size = draw(st.integers(min_value=1, max_value=8))
    return [draw(client_records(client_id)) for client_id in range(1, size + 1)]


@given(populations(), st.data())
def test_find_duplicates_never_returns_a_pair_marked_not_a_duplicate(
    population: list[ClientRecord], data: st.DataObject
) -> None:
    ids = [record.client_id for record in population]
    pairs = st.tuples(st.sampled_from(ids), st.sampled_from(ids)).map(frozenset)
    not_duplicates = frozenset(data.draw(st.lists(pairs, max_size=10)))
    for record in population:
        suggestions = find_duplicates(record, population, not_duplicates)
        for suggestion in suggestions:
            assert suggestion.pair not in not_duplicates
            assert suggestion.other_id != record.client_id
            assert suggestion.matches
        # Dismissing a pair removes exactly that pair and nothing else.
        unfiltered = find_duplicates(record, population, frozenset())
        assert suggestions == [s for s in unfiltered if s.pair not in not_duplicates]


@given(populations())
def test_find_duplicates_is_symmetric_in_which_pairs_it_finds(
    population: list[ClientRecord],
) -> None:
    found = {
        suggestion.pair
        for record in population
        for suggestion in find_duplicates(record, population, frozenset())
    }
    for record in population:
        for suggestion in find_duplicates(record, population, frozenset()):
            other = next(r for r in population if r.client_id == suggestion.other_id)
            back = find_duplicates(other, [record], frozenset())
            assert [s.fields for s in back] == [suggestion.fields]
            assert suggestion.pair in found
