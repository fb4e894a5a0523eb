"""Normalisation of phones, emails and names as clients actually write them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_sink.contacts import normalize_email, normalize_name, normalize_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        # Russia: the national "8" prefix, brackets and dashes, with and without a region.
        ("8 (916) 123-45-67", "RU", "+79161234567"),
        ("89161234567", "RU", "+79161234567"),
        ("+7 916 123 45 67", None, "+79161234567"),
        ("+7 (495) 123-45-67", None, "+74951234567"),
        ("  +7-916-123-45-67  ", "ru", "+79161234567"),
        ("tel:+7-916-123-45-67", None, "+79161234567"),
        # An extension names the same line; E.164 has no room for it.
        ("+7 916 123-45-67 доб. 12", None, "+79161234567"),
        # Germany: Berlin landline and a mobile, national and international forms.
        ("030 12345678", "DE", "+493012345678"),
        ("+49 30 12345678", None, "+493012345678"),
        ("0049 30 12345678", "DE", "+493012345678"),
        ("0151 23456789", "DE", "+4915123456789"),
        # United Kingdom: London and a mobile.
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("+44 7911 123456", None, "+447911123456"),
        # An international number is read as such whatever the default region.
        ("+44 20 7946 0958", "RU", "+442079460958"),
    ],
)
def test_normalize_phone_returns_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("8 916 123 45 67", None),  # national form without a region is ambiguous
        ("+7 916 123 45", "RU"),  # too short
        ("+7 916 123 45 67 89", None),  # too long
        ("07700 900123", "GB"),  # Ofcom's range reserved for drama, not a real number
        ("12345", "RU"),
        ("not a phone", None),
        ("", "RU"),
        ("   ", None),
        ("call +79161234567 now", None),
    ],
)
def test_normalize_phone_rejects_invalid_numbers(raw: str, region: str | None) -> None:
    assert normalize_phone(raw, region) is None


def test_same_russian_number_written_three_ways_is_one_key() -> None:
    spellings = ["8 (916) 123-45-67", "+7 916 123 45 67", "8-916-123-4567"]
    assert {normalize_phone(raw, "RU") for raw in spellings} == {"+79161234567"}


@given(st.text(max_size=40), st.sampled_from([None, "RU", "DE", "GB"]))
def test_normalize_phone_is_idempotent_and_never_raises(raw: str, region: str | None) -> None:
    result = normalize_phone(raw, region)
    if result is not None:
        assert result.startswith("+")
        assert normalize_phone(result) == result


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ivan.Petrov@Example.COM", "ivan.petrov@example.com"),
        ("  IVAN@YANDEX.RU\n", "ivan@yandex.ru"),
        ("Ivan+Shop@Gmail.com", "ivan+shop@gmail.com"),  # +tags are not folded
        ("i.v.a.n@gmail.com", "i.v.a.n@gmail.com"),  # nor are Gmail dots
        ("Иван@Почта.РФ", "иван@почта.рф"),
        ("ivan@xn--80a1acny.xn--p1ai", "ivan@почта.рф"),  # punycode equals the Unicode form
        ("o'brien@mail.co.uk", "o'brien@mail.co.uk"),
        ("sales-team@my-company.de", "sales-team@my-company.de"),
    ],
)
def test_normalize_email_canonical_form(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ivan",
        "ivan@",
        "@example.com",
        "ivan@example",  # no dot in the domain
        "ivan@@example.com",
        "ivan@petrov@example.com",
        "ivan petrov@example.com",
        "Ivan Petrov <ivan@example.com>",  # display-name form, not a bare address
        '"ivan"@example.com',
        ".ivan@example.com",
        "ivan.@example.com",
        "iv..an@example.com",
        "ivan@example..com",
        "ivan@example.com.",
        "ivan@.example.com",
        "ivan@-example.com",
        "ivan@exa_mple.com",
        "ivan@192.168.0.1",
        "ivan@xn--zz-.com",  # broken punycode
        "a" * 65 + "@example.com",
    ],
)
def test_normalize_email_rejects_non_addresses(raw: str) -> None:
    assert normalize_email(raw) is None


@given(st.emails())
def test_normalize_email_is_idempotent_on_valid_addresses(raw: str) -> None:
    result = normalize_email(raw)
    if result is not None:
        assert normalize_email(result) == result
        assert result == result.lower()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Пётр Ильич Чайковский", "петр ильич чайковский"),
        ("ПЁТР  ИЛЬИЧ", "петр ильич"),
        ("Петр Ильич", "петр ильич"),
        ("  Ivan   Petrov. ", "ivan petrov"),
        ("Римский-Корсаков", "римский корсаков"),
        ("O'Brien", "obrien"),
        ("O’Brien", "obrien"),
        ("Straße", "strasse"),
        ("Ivan\tPetrov\n", "ivan petrov"),
        ("Пет\u00adров", "петров"),  # a soft hyphen sits inside a word
        ("Пе\u0435\u0308тр", "пеетр"),  # decomposed ё composes, then becomes е
        ("«Иван» (Ваня) Петров!!!", "иван ваня петров"),
        ("", ""),
        ("...", ""),
    ],
)
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_names_with_e_and_yo_compare_equal() -> None:
    assert normalize_name("Семён Фёдоров") == normalize_name("СЕМЕН ФЕДОРОВ")


@given(st.text(max_size=40))
def test_normalize_name_is_idempotent(raw: str) -> None:
    once = normalize_name(raw)
    assert normalize_name(once) == once
    assert "ё" not in once
    assert once == once.strip()
    assert "  " not in once
