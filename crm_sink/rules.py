"""Pure CRM rules the sink's writer asks: a line's CRM settings, which keys a channel vouches
for, what a transcript holds, which required fields a client misses, who gets a fill-in task.

No I/O here; every input is plain data and every answer a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.envelope import ClientHints
from crm_sink.contacts import is_generated_name, normalize_email, normalize_phone
from crm_sink.matching import StrongKey

__all__ = [
    "BUILTIN_FIELDS",
    "ContactHint",
    "LineCrmSettings",
    "TranscriptFile",
    "TranscriptLine",
    "assign_tasks",
    "contact_hints",
    "line_crm_settings",
    "missing_fields",
    "transcript_text",
]

BUILTIN_FIELDS = ("name", "phone", "email", "company")
"""Fields an admin may require besides custom ones (``custom:<key>``)."""


@dataclass(frozen=True)
class LineCrmSettings:
    """A line's ``settings["crm"]``, e.g.
    ``{"create_lead": true, "change_responsible_on_transfer": true}``."""

    create_lead: bool = True
    change_responsible_on_transfer: bool = True


def line_crm_settings(settings: Mapping[str, Any]) -> LineCrmSettings:
    """Read a line's CRM settings; anything missing or of the wrong type takes the default."""
    raw = settings.get("crm")
    if not isinstance(raw, Mapping):
        return LineCrmSettings()
    default = LineCrmSettings()

    def flag(name: str) -> bool:
        value = raw.get(name)
        return value if isinstance(value, bool) else bool(getattr(default, name))

    return LineCrmSettings(
        create_lead=flag("create_lead"),
        change_responsible_on_transfer=flag("change_responsible_on_transfer"),
    )


@dataclass(frozen=True)
class ContactHint:
    """A contact to store from a channel's hints; ``strong`` ones may match automatically."""

    kind: str  # "phone" | "email" | "site"
    value: str
    strong: StrongKey | None


def contact_hints(
    hints: ClientHints, channel_kind: str, channel_id: int, phone_region: str | None
) -> list[ContactHint]:
    """The normalised contacts in ``hints``, each with its strong key when the channel vouches.

    A phone is strong only when the connector says it is verified (Telegram's contact button
    with the sender's own id); an email when it is the sender of an email dialog or the site
    signed it; a site identity always (the web chat checked the site's HMAC), scoped to its
    channel. A phone or email that does not normalise is dropped.
    """
    found: list[ContactHint] = []
    if hints.phone:
        raw = hints.phone.strip()
        if hints.phone_verified:
            value = normalize_phone(raw if raw.startswith("+") else f"+{raw}")
            if value:
                found.append(ContactHint("phone", value, StrongKey("verified_phone", value)))
        else:
            value = normalize_phone(raw, phone_region)
            if value:
                found.append(ContactHint("phone", value, None))
    if hints.email:
        email = normalize_email(hints.email)
        if email:
            vouched = channel_kind == "email" or hints.email_verified
            strong = StrongKey("email_address", email) if vouched else None
            found.append(ContactHint("email", email, strong))
    if hints.site_identity:
        scoped = f"{channel_id}:{hints.site_identity}"
        found.append(ContactHint("site", scoped, StrongKey("site_identity", scoped)))
    return found


@dataclass(frozen=True)
class TranscriptFile:
    """A file of a transcript's message: its name and the link to it."""

    name: str
    url: str


@dataclass(frozen=True)
class TranscriptLine:
    """One message of a transcript: who, when, what, and its files."""

    author: str
    author_name: str
    at: datetime
    text: str
    attachments: tuple[TranscriptFile, ...] = ()


def transcript_text(lines: Sequence[TranscriptLine]) -> str:
    """A transcript as plain text for a CRM timeline: one line per message, then one per file
    with its name and link (a file-only message would otherwise read as an empty one)."""
    out: list[str] = []
    for line in lines:
        who = line.author_name or line.author
        stamp = line.at.strftime("%Y-%m-%d %H:%M")
        out.append(f"[{stamp}] {who}: {line.text}".rstrip())
        out.extend(f"    file: {f.name or 'file'} {f.url}" for f in line.attachments)
    return "\n".join(out)


def missing_fields(
    required: Mapping[str, int],
    *,
    name: str,
    company: str,
    phones: frozenset[str] | set[str],
    emails: frozenset[str] | set[str],
    custom_fields: Mapping[str, Any],
) -> list[str]:
    """The required fields a client leaves empty, in the admin's order; a name the hub made
    up ("Visitor J3tCnX", "Client #12") is no name."""
    filled = {
        "name": not is_generated_name(name),
        "company": bool(company.strip()),
        "phone": bool(phones),
        "email": bool(emails),
    }
    missing: list[str] = []
    for field in required:
        if field.startswith("custom:"):
            value = custom_fields.get(field.removeprefix("custom:"))
            if value is None or not str(value).strip():
                missing.append(field)
        elif not filled.get(field, True):
            missing.append(field)
    return missing


def assign_tasks(
    clients: Sequence[tuple[int, int | None]], operators: Sequence[int]
) -> dict[int, int]:
    """Who completes which client: ``clients`` are (client id, responsible or None).

    With ``operators`` chosen, the work is spread evenly among them in client order (a
    round-robin, so no one gets two more than another). Without, each client goes to its
    responsible; clients without one are left out (the check reports them unassigned).
    """
    if operators:
        return {cid: operators[i % len(operators)] for i, (cid, _r) in enumerate(clients)}
    return {cid: responsible for cid, responsible in clients if responsible is not None}
