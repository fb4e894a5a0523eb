"""Normalisation of client contacts: phones, emails and names.

A contact is only useful for matching if two spellings of the same thing compare equal, so
every phone, email and name passes through one of these functions before it is stored or
compared. They are pure: no I/O, no clock, no settings read inside.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["is_generated_name", "normalize_email", "normalize_name", "normalize_phone"]

# RFC 5321 limits; a longer string is not a deliverable address whatever it looks like.
_MAX_LOCAL = 64
_MAX_LABEL = 63
_MAX_ADDRESS = 254
# Characters that only appear in a local part inside quotes or in a display-name form
# ("Ivan <ivan@example.com>"); neither is a bare address, so both are rejected.
_LOCAL_FORBIDDEN = frozenset('"(),:;<>[\\]')
# Apostrophes join a name ("O'Brien" ~ "OBrien"); other punctuation separates words
# ("Римский-Корсаков" ~ "Римский Корсаков"), so they are treated differently.
_APOSTROPHES = frozenset("'’‘ʼʹ`´")
# Names the hub makes up when a client gave none: the web chat's "Visitor <6 characters of the
# visitor id>", the console's "Client #<id>" and VK's "VK id<peer id>".
_GENERATED_NAME = re.compile(r"(Visitor [A-Za-z0-9_-]{6}|Client #\d+|VK id\d+)")


def normalize_phone(raw: str, default_region: str | None = None) -> str | None:
    """Return ``raw`` as an E.164 string (``+79161234567``), or None if it is not valid.

    ``default_region`` (ISO 3166 alpha-2, e.g. ``"RU"``) says how to read a number written
    in national form: ``"8 (916) 123-45-67"`` is only a number once we know it is Russian.
    Without it, only numbers written with ``+`` and a country code are accepted.

    Validity is libphonenumber's ``is_valid_number``: the number must exist in the country's
    numbering plan, not merely have a plausible length, because a stored phone is a key that
    can match two clients and a wrong key is worse than none. An extension ("доб. 12",
    "ext. 5") is dropped, since E.164 has none: it names the same line for matching.
    """
    text = raw.strip()
    if not text:
        return None
    region = default_region.upper() if default_region else None
    # libphonenumber's tables are imported at the first phone, not at the hub's start.
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str | None:
    """Return the canonical form of a bare email address, or None if it is not one.

    The address is trimmed and lower-cased in full, domain and local part. RFC 5321 lets a
    server treat the local part as case-sensitive, but no mainstream provider (Gmail, Yandex,
    Mail.ru, Outlook) does, and clients type their address in whatever case they like; a
    missed match costs more than the theoretical mailbox that differs only by case. The
    result is a matching key: replies should still go to the address exactly as it arrived.
    Provider tricks (Gmail dots, ``+tag``) are not folded, since they are not universal and
    folding them would invent strong matches.

    Rejected: no ``@`` or more than one, an empty or over-long part, whitespace, quoted or
    display-name forms, a domain without a dot, empty or malformed labels, a numeric
    top-level label (an IP address). Punycode labels (``xn--p1ai``) are decoded so that
    ``ivan@почта.рф`` and ``ivan@xn--80a1acny.xn--p1ai`` compare equal.
    """
    text = raw.strip()
    if text.count("@") != 1:
        return None
    local, domain_text = text.split("@")
    if not _is_local_part(local):
        return None
    domain = _normalize_domain(domain_text)
    if domain is None:
        return None
    address = f"{local.lower()}@{domain}"
    return address if len(address) <= _MAX_ADDRESS else None


def normalize_name(raw: str) -> str:
    """Return a name reduced to what matters for comparing two people's names.

    Unicode-compatibility normalised (NFKC), case-folded, ``ё`` written as ``е`` (Russian
    writers use them interchangeably), apostrophes removed, every other punctuation mark or
    symbol turned into a space, and runs of whitespace collapsed. ``"  Пётр  Ильич-Чайковский."``
    becomes ``"петр ильич чайковский"``. The result may be empty.
    """
    text = unicodedata.normalize("NFKC", raw).casefold().replace("ё", "е")
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if char in _APOSTROPHES or category == "Cf":
            # Format characters (soft hyphen, zero-width joiner) sit inside words.
            continue
        kept.append(" " if category[0] in "PSZC" else char)
    return " ".join("".join(kept).split())


def is_generated_name(name: str) -> bool:
    """True for a name the hub made up, or none at all: it says nothing about the person, so
    a required name it stands in for is still missing."""
    text = name.strip()
    return not text or _GENERATED_NAME.fullmatch(text) is not None


def _is_local_part(local: str) -> bool:
    if not local or len(local) > _MAX_LOCAL:
        return False
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    return not any(
        char.isspace() or char in _LOCAL_FORBIDDEN or unicodedata.category(char)[0] == "C"
        for char in local
    )


def _normalize_domain(domain: str) -> str | None:
    labels = unicodedata.normalize("NFC", domain).lower().split(".")
    if len(labels) < 2:
        return None
    decoded: list[str] = []
    for label in labels:
        if label.startswith("xn--"):
            label = _decode_a_label(label)
        if not _is_label(label):
            return None
        decoded.append(label)
    if decoded[-1].isdigit():
        return None
    return ".".join(decoded)


def _decode_a_label(label: str) -> str:
    """Decode ``xn--...`` to Unicode; an empty string (an invalid label) if it is not one."""
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return ""
    # A real A-label encodes non-ASCII text and is the only spelling of it ("xn--zz-" also
    # decodes, to "zz", but no registrar would issue it), so it must round-trip exactly.
    if decoded.isascii() or decoded.encode("punycode") != label[4:].encode("ascii"):
        return ""
    return decoded.lower()


def _is_label(label: str) -> bool:
    if not label or len(label) > _MAX_LABEL:
        return False
    if label.startswith("-") or label.endswith("-"):
        return False
    return all(char.isalnum() or char == "-" for char in label)
