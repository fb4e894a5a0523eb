"""Which client a channel identity belongs to, and which clients look like duplicates.

Two decisions with different stakes, kept apart on purpose:

* ``match_strong`` attaches a new identity to an existing client automatically. It looks
  only at keys that a channel has verified (a phone shared with Telegram's contact button,
  the address an email came from, a website identity signed with the site's secret), and it
  answers only when exactly one client holds the key.
* ``find_duplicates`` produces suggestions for an admin, with the reason for every matched
  field. Weak evidence (a similar name, a company, a phone someone typed) lands here and
  nowhere else: nothing in this module merges anything.

Both are pure functions over plain data; loading candidates and writing links is the job of
the CRM sink's action layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from crm_sink.contacts import normalize_email, normalize_name, normalize_phone

__all__ = [
    "ClientRecord",
    "DuplicateSuggestion",
    "FieldMatch",
    "MatchedField",
    "StrongKey",
    "StrongKeyKind",
    "find_duplicates",
    "match_strong",
]

StrongKeyKind = Literal["verified_phone", "email_address", "site_identity"]
MatchedField = Literal["phone", "email", "name", "company"]

# Weights that rank suggestions. A shared phone or email (40) always outranks any mix of
# weak evidence (a name at most 20 plus a company 10), so the list reads strongest first.
_PHONE_WEIGHT = 40
_EMAIL_WEIGHT = 40
_NAME_WEIGHT = 20
_COMPANY_WEIGHT = 10
# Legal-form words say nothing about which company it is: "ООО «Ромашка»" is "Ромашка".
_LEGAL_FORMS = frozenset(
    {"ооо", "оао", "зао", "пао", "ао", "ип", "llc", "ltd", "inc", "gmbh", "plc", "corp"}
)


@dataclass(frozen=True, kw_only=True)
class ClientRecord:
    """What matching needs to know about one client.

    ``phones`` hold E.164 strings (``normalize_phone``) and ``emails`` normalised addresses
    (``normalize_email``); both are compared as stored. ``site_identities`` are the
    website user ids this client was signed in as, each scoped by the caller to its site
    (e.g. ``"<channel account id>:<site user id>"``). ``updated_at`` and the link counts
    are carried for display; matching does not rank by them.
    """

    client_id: int
    name: str = ""
    company: str = ""
    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    site_identities: frozenset[str] = frozenset()
    custom_fields: Mapping[str, str] = field(default_factory=dict, hash=False)
    dialog_count: int = 0
    lead_count: int = 0
    updated_at: datetime

    def __post_init__(self) -> None:
        # A read-only copy, so a frozen record cannot be changed through the caller's dict.
        object.__setattr__(self, "custom_fields", MappingProxyType(dict(self.custom_fields)))


@dataclass(frozen=True)
class StrongKey:
    """A key that is allowed to attach a new identity to an existing client automatically.

    Constructing one is a claim that the channel has verified it; only the edge that did the
    verification should build it:

    * ``verified_phone``: the phone of a Telegram contact shared with the contact button,
      and only when the contact's ``user_id`` is the sender's own id (anyone can forward
      someone else's contact card). International digits, with or without the ``+``.
    * ``email_address``: the sender address of an email dialog.
    * ``site_identity``: a website user id the widget received signed with the site's
      secret (HMAC checked by the web-chat connector), scoped like
      ``ClientRecord.site_identities``.
    """

    kind: StrongKeyKind
    value: str


@dataclass(frozen=True)
class FieldMatch:
    """One field on which two clients agree, with the human-readable reason.

    ``score`` is 100 for exact matches and the fuzzy ratio (0-100) for names.
    """

    field: MatchedField
    reason: str
    score: int


@dataclass(frozen=True)
class DuplicateSuggestion:
    """A pair of clients that may be the same person, and why.

    ``strength`` ranks suggestions; ``shares_contact`` says whether a phone or an email is
    shared rather than only a name. Either way it is only a suggestion: an admin merges or
    dismisses it.
    """

    client_id: int
    other_id: int
    matches: tuple[FieldMatch, ...]
    strength: int

    @property
    def pair(self) -> frozenset[int]:
        """The unordered pair, as stored in the not-a-duplicate list."""
        return frozenset({self.client_id, self.other_id})

    @property
    def fields(self) -> tuple[MatchedField, ...]:
        """The names of the matched fields, strongest first."""
        return tuple(match.field for match in self.matches)

    @property
    def shares_contact(self) -> bool:
        """True if the pair shares a phone or an email, not just a name or company."""
        return any(match.field in ("phone", "email") for match in self.matches)


def match_strong(key: StrongKey, clients: Iterable[ClientRecord]) -> int | None:
    """Return the id of the one client that holds ``key``, or None.

    None when no client holds it, when the key does not normalise (an invalid phone or
    address), and when several clients hold it: a key shared by two clients no longer
    identifies one of them, and guessing would merge people silently. Those clients already
    show up to each other as duplicates, which is where an admin resolves it.
    """
    wanted = _strong_value(key)
    if wanted is None:
        return None
    owners = {client.client_id for client in clients if wanted in _keys_of(client, key.kind)}
    return owners.pop() if len(owners) == 1 else None


def find_duplicates(
    client: ClientRecord,
    others: Iterable[ClientRecord],
    not_duplicates: frozenset[frozenset[int]],
    name_threshold: int = 90,
) -> list[DuplicateSuggestion]:
    """Suggest which of ``others`` may be the same person as ``client``, strongest first.

    Like Bitrix24's duplicate control, candidates match on phone, email, name and company:

    * phone and email: any shared normalised value;
    * name: ``rapidfuzz`` token-set ratio of the normalised names at least
      ``name_threshold``, so word order does not matter and a missing patronymic does not
      either ("Иван Петров" ~ "Петров Иван Сергеевич"); both names need two words or more,
      because a lone first name ("Иван") would pair every Ivan with every other;
    * company: equal once normalised and stripped of legal forms ("ООО", "GmbH"). A company
      alone is not a suggestion (colleagues share it), it only strengthens another match.

    Pairs listed in ``not_duplicates`` and ``client`` itself are never suggested. Ties in
    strength are ordered by the other client's id, so the output is deterministic.
    """
    if not 0 <= name_threshold <= 100:
        raise ValueError(f"name_threshold must be within 0..100, got {name_threshold}")
    own_name = normalize_name(client.name)
    own_company = _company_key(client.company)
    suggestions: list[DuplicateSuggestion] = []
    for other in others:
        if other.client_id == client.client_id:
            continue
        if frozenset({client.client_id, other.client_id}) in not_duplicates:
            continue
        matches = _compare(client, own_name, own_company, other, name_threshold)
        if not any(match.field != "company" for match in matches):
            continue
        strength = sum(_weight(match) for match in matches)
        suggestions.append(
            DuplicateSuggestion(client.client_id, other.client_id, tuple(matches), strength)
        )
    suggestions.sort(key=lambda suggestion: (-suggestion.strength, suggestion.other_id))
    return suggestions


def _strong_value(key: StrongKey) -> str | None:
    if key.kind == "verified_phone":
        # Telegram sends contact phones in international form, sometimes without the "+".
        value = key.value.strip()
        return normalize_phone(value if value.startswith("+") else f"+{value}")
    if key.kind == "email_address":
        return normalize_email(key.value)
    return key.value or None


def _keys_of(client: ClientRecord, kind: StrongKeyKind) -> frozenset[str]:
    if kind == "verified_phone":
        return client.phones
    if kind == "email_address":
        return client.emails
    return client.site_identities


def _compare(
    client: ClientRecord,
    own_name: str,
    own_company: str,
    other: ClientRecord,
    name_threshold: int,
) -> list[FieldMatch]:
    matches: list[FieldMatch] = []
    shared_phones = sorted(client.phones & other.phones)
    if shared_phones:
        matches.append(FieldMatch("phone", "phone " + ", ".join(shared_phones), 100))
    shared_emails = sorted(client.emails & other.emails)
    if shared_emails:
        matches.append(FieldMatch("email", "email " + ", ".join(shared_emails), 100))
    other_name = normalize_name(other.name)
    if len(own_name.split()) >= 2 and len(other_name.split()) >= 2:
        from rapidfuzz import fuzz  # at the first pair of full names, not at the hub's start

        ratio = fuzz.token_set_ratio(own_name, other_name)
        if ratio >= name_threshold:
            score = round(ratio)
            reason = f"name '{client.name.strip()}' ~ '{other.name.strip()}' ({score})"
            matches.append(FieldMatch("name", reason, score))
    if own_company and own_company == _company_key(other.company):
        mine, theirs = client.company.strip(), other.company.strip()
        reason = f"company '{mine}'" if mine == theirs else f"company '{mine}' = '{theirs}'"
        matches.append(FieldMatch("company", reason, 100))
    return matches


def _company_key(company: str) -> str:
    words = [word for word in normalize_name(company).split() if word not in _LEGAL_FORMS]
    return " ".join(sorted(words))


def _weight(match: FieldMatch) -> int:
    if match.field == "phone":
        return _PHONE_WEIGHT
    if match.field == "email":
        return _EMAIL_WEIGHT
    if match.field == "name":
        return round(_NAME_WEIGHT * match.score / 100)
    return _COMPANY_WEIGHT
