"""Completeness rules: which required fields a client leaves empty. A name the hub made up
when the client gave none is no name, so it stays missing and earns no points."""

from __future__ import annotations

import pytest

from crm_sink.completeness import BAD_EMAIL, BAD_PHONE, BadField, ClientEdit, check_contacts
from crm_sink.contacts import is_generated_name
from crm_sink.rules import missing_fields
from crm_sink.views import identity_label

REQUIRED = {"name": 5, "phone": 10}


def _missing(name: str) -> list[str]:
    return missing_fields(
        REQUIRED, name=name, company="", phones={"+79161234567"}, emails=set(), custom_fields={}
    )


@pytest.mark.parametrize(
    "name", ["Visitor J3tCnX", "Client #12", "VK id42", " Visitor ab_-9Z ", ""]
)
def test_generated_name_counts_as_missing(name: str) -> None:
    assert is_generated_name(name)
    assert _missing(name) == ["name"]


@pytest.mark.parametrize(
    "name", ["Анна Петрова", "Visitor", "Visitor J3tCnX Smith", "Client #12b", "Visitors ABCDEF"]
)
def test_a_real_name_counts_as_filled(name: str) -> None:
    assert not is_generated_name(name)
    assert _missing(name) == []


def test_contacts_are_normalised_or_refused_with_a_sentence() -> None:
    found = check_contacts(ClientEdit(add_phone="8 (916) 123-45-67", add_email=" A@B.ru "), "RU")
    assert found == {"phone": "+79161234567", "email": "a@b.ru"}
    with pytest.raises(BadField) as bad_phone:
        check_contacts(ClientEdit(add_phone="12345"), "RU")
    assert (bad_phone.value.field, bad_phone.value.sentence) == ("phone", BAD_PHONE)
    with pytest.raises(BadField) as bad_email:
        check_contacts(ClientEdit(add_email="ivan@"), None)
    assert (bad_email.value.field, bad_email.value.sentence) == ("email", BAD_EMAIL)


@pytest.mark.parametrize(
    ("kind", "display_name", "external_id", "label"),
    [
        ("telegram", "Anna P", "4242", "Telegram Anna P"),
        ("email", "Anna", "anna@example.com", "Email anna@example.com"),
        ("webchat", "Visitor J3tCnX", "J3tCnXabc", "Web chat"),
        ("vk", "VK id42", "42", "VK"),
    ],
)
def test_an_identity_reads_as_its_channel_and_a_real_name(
    kind: str, display_name: str, external_id: str, label: str
) -> None:
    assert identity_label(kind, display_name, external_id) == label
