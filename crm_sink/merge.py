"""Merging two clients and undoing it, as pure functions over plain values.

``choose_main`` decides which record survives, ``plan_merge`` describes the whole merge as a
``MergeRecord`` (stored as JSON), and ``apply_unmerge`` computes both clients back from that
record and the main client's current state. ``crm_sink.merge_record`` stores a record as JSON
and reads it back; it depends on this module, never the other way round. The action layer
carries the result out in one transaction; nothing here reads a clock or a database.

Rules of unmerge, precisely (they are what the property tests check):

* The duplicate comes back exactly as it was before the merge, except for links (dialogs,
  identities, leads, notes) that have left the main client since: a deleted note is not
  resurrected and a dialog moved on elsewhere is not taken back.
* The main client loses exactly what the merge gave it: the links and the contacts (phones,
  emails) that came from the duplicate, and every empty field the duplicate filled, but a
  filled field only while it still holds the value the merge put there; an operator's later
  edit stays.
* Everything else on the main client is kept as it is now: links, contacts and custom
  fields added since, edits to fields the merge did not fill, and removals since.
* ``updated_at`` follows the filled-field rule: it goes back to its pre-merge value only if
  it still equals the value the merge set, that is if nothing has changed since.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import TypeVar

__all__ = [
    "CUSTOM_FIELD_PREFIX",
    "FieldConflict",
    "FieldValue",
    "FilledField",
    "MergeRecord",
    "MergeableClient",
    "MovedItems",
    "apply_unmerge",
    "choose_main",
    "plan_merge",
]

FieldValue = str | int | None
# Custom fields appear in ``filled``/``conflicts`` as "custom:<key>"; the built-in single
# fields (name, company, responsible_id) never start with it, so the names cannot collide.
CUSTOM_FIELD_PREFIX = "custom:"
CONTACT_SETS = ("phones", "emails")
LINK_SETS = ("dialog_ids", "identity_ids", "lead_ids", "note_ids")
_V = TypeVar("_V", str, int | None)


@dataclass(frozen=True, kw_only=True)
class MergeableClient:
    """The full state of a client that a merge reads or changes.

    Single-value fields: ``name``, ``company``, ``responsible_id`` and ``custom_fields``
    (a field is empty when it is blank, None or absent). Multi-value: ``phones`` and
    ``emails``. Links that move with a merge: dialog, identity, lead and note ids, each
    owned by exactly one client. ``updated_at`` must be timezone-aware so that two clients
    always compare.
    """

    client_id: int
    name: str = ""
    company: str = ""
    responsible_id: int | None = None
    custom_fields: Mapping[str, str] = field(default_factory=dict, hash=False)
    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    dialog_ids: frozenset[int] = frozenset()
    identity_ids: frozenset[int] = frozenset()
    lead_ids: frozenset[int] = frozenset()
    note_ids: frozenset[int] = frozenset()
    updated_at: datetime

    def __post_init__(self) -> None:
        if self.updated_at.tzinfo is None:
            raise ValueError(f"client {self.client_id}: updated_at must be timezone-aware")
        # A read-only copy, so a frozen client cannot be changed through the caller's dict.
        object.__setattr__(self, "custom_fields", MappingProxyType(dict(self.custom_fields)))

    @property
    def link_count(self) -> int:
        """Dialogs plus leads: what makes a record the one people work with."""
        return len(self.dialog_ids) + len(self.lead_ids)

    @property
    def completeness(self) -> int:
        """How many single fields are filled, plus every phone and email."""
        scalars = (self.name, self.company, self.responsible_id, *self.custom_fields.values())
        return sum(not _is_empty(value) for value in scalars) + len(self.phones) + len(self.emails)


@dataclass(frozen=True, kw_only=True)
class MovedItems:
    """What the main client received from the duplicate.

    ``phones`` and ``emails`` are only those the main client did not already have; the link
    sets are all of the duplicate's links.
    """

    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    dialog_ids: frozenset[int] = frozenset()
    identity_ids: frozenset[int] = frozenset()
    lead_ids: frozenset[int] = frozenset()
    note_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class FilledField:
    """An empty field of the main client that took the duplicate's ``value``."""

    field: str
    value: FieldValue


@dataclass(frozen=True)
class FieldConflict:
    """A field both clients had filled differently: main's value stayed, dup's is kept here."""

    field: str
    main_value: FieldValue
    dup_value: FieldValue


@dataclass(frozen=True, kw_only=True)
class MergeRecord:
    """Everything a merge did, enough to show it to an admin and to undo it.

    ``main_before`` and ``dup_before`` are full snapshots; ``merged`` is the main client's
    state right after the merge. The record states what happened under the rules in force
    at the time: ``apply_unmerge`` reads it as stored and never re-derives it.
    """

    main_before: MergeableClient
    dup_before: MergeableClient
    merged: MergeableClient
    moved: MovedItems
    filled: tuple[FilledField, ...]
    conflicts: tuple[FieldConflict, ...]


def choose_main(a: MergeableClient, b: MergeableClient) -> tuple[MergeableClient, MergeableClient]:
    """Return ``(main, duplicate)``: the record that survives a merge comes first.

    Main is the one with more links (dialogs plus leads), then the most recently changed,
    then the most complete, then the older record (lower id), so the choice never depends
    on argument order.
    """
    if a.client_id == b.client_id:
        raise ValueError(f"cannot merge client {a.client_id} with itself")

    def rank(client: MergeableClient) -> tuple[int, datetime, int, int]:
        return (client.link_count, client.updated_at, client.completeness, -client.client_id)

    return (a, b) if rank(a) > rank(b) else (b, a)


def plan_merge(
    main: MergeableClient, dup: MergeableClient, *, at: datetime | None = None
) -> MergeRecord:
    """Describe merging ``dup`` into ``main`` (use ``choose_main`` to order them).

    Phones and emails are united; every link of ``dup`` moves to ``main``. An empty field
    of ``main`` takes ``dup``'s value; where both are filled and differ, ``main``'s value
    stays and the conflict keeps ``dup``'s. The merged ``updated_at`` is ``at`` (pass the
    merge time) or, without it, the later of the two. Raises ValueError if the clients are
    the same or share a link id, which would mean the data is already inconsistent.
    """
    if main.client_id == dup.client_id:
        raise ValueError(f"cannot merge client {main.client_id} with itself")
    for kind in LINK_SETS:
        if getattr(main, kind) & getattr(dup, kind):
            raise ValueError(f"clients {main.client_id} and {dup.client_id} share {kind}")
    filled: list[FilledField] = []
    conflicts: list[FieldConflict] = []
    name = _pick("name", main.name, dup.name, filled, conflicts)
    company = _pick("company", main.company, dup.company, filled, conflicts)
    responsible = _pick(
        "responsible_id", main.responsible_id, dup.responsible_id, filled, conflicts
    )
    custom = dict(main.custom_fields)
    for key in sorted(dup.custom_fields):
        if not _is_empty(dup.custom_fields[key]):
            field_name = CUSTOM_FIELD_PREFIX + key
            mine = main.custom_fields.get(key, "")
            custom[key] = _pick(field_name, mine, dup.custom_fields[key], filled, conflicts)
    moved = MovedItems(
        phones=dup.phones - main.phones,
        emails=dup.emails - main.emails,
        dialog_ids=dup.dialog_ids,
        identity_ids=dup.identity_ids,
        lead_ids=dup.lead_ids,
        note_ids=dup.note_ids,
    )
    merged = replace(
        main,
        name=name,
        company=company,
        responsible_id=responsible,
        custom_fields=custom,
        phones=main.phones | moved.phones,
        emails=main.emails | moved.emails,
        dialog_ids=main.dialog_ids | moved.dialog_ids,
        identity_ids=main.identity_ids | moved.identity_ids,
        lead_ids=main.lead_ids | moved.lead_ids,
        note_ids=main.note_ids | moved.note_ids,
        updated_at=at if at is not None else max(main.updated_at, dup.updated_at),
    )
    return MergeRecord(
        main_before=main,
        dup_before=dup,
        merged=merged,
        moved=moved,
        filled=tuple(filled),
        conflicts=tuple(conflicts),
    )


def apply_unmerge(
    record: MergeRecord, main_now: MergeableClient
) -> tuple[MergeableClient, MergeableClient]:
    """Return ``(main, duplicate)`` as they should be after undoing ``record``.

    ``main_now`` is the main client's current state. See the module docstring for exactly
    what goes back and what stays; with nothing changed since the merge, the result is
    ``(record.main_before, record.dup_before)``.
    """
    if main_now.client_id != record.merged.client_id:
        raise ValueError(
            f"merge record is for client {record.merged.client_id}, not {main_now.client_id}"
        )
    before, moved = record.main_before, record.moved
    filled = {item.field: item.value for item in record.filled}

    def revert(field_name: str, now: _V, was: _V) -> _V:
        # A filled field is given back only while it still holds the merge's value.
        if field_name in filled and now == filled[field_name]:
            return was
        return now

    custom = dict(main_now.custom_fields)
    for field_name, value in filled.items():
        if not field_name.startswith(CUSTOM_FIELD_PREFIX):
            continue
        key = field_name.removeprefix(CUSTOM_FIELD_PREFIX)
        if custom.get(key) != value:
            continue
        if key in before.custom_fields:
            custom[key] = before.custom_fields[key]
        else:
            del custom[key]
    unchanged = main_now.updated_at == record.merged.updated_at
    main = replace(
        main_now,
        name=revert("name", main_now.name, before.name),
        company=revert("company", main_now.company, before.company),
        responsible_id=revert("responsible_id", main_now.responsible_id, before.responsible_id),
        custom_fields=custom,
        phones=main_now.phones - moved.phones,
        emails=main_now.emails - moved.emails,
        dialog_ids=main_now.dialog_ids - moved.dialog_ids,
        identity_ids=main_now.identity_ids - moved.identity_ids,
        lead_ids=main_now.lead_ids - moved.lead_ids,
        note_ids=main_now.note_ids - moved.note_ids,
        updated_at=before.updated_at if unchanged else main_now.updated_at,
    )
    dup_before = record.dup_before
    # Links still on main go back; ones that have left it since stay where they are now.
    dup = replace(
        dup_before,
        dialog_ids=dup_before.dialog_ids & main_now.dialog_ids,
        identity_ids=dup_before.identity_ids & main_now.identity_ids,
        lead_ids=dup_before.lead_ids & main_now.lead_ids,
        note_ids=dup_before.note_ids & main_now.note_ids,
    )
    return main, dup


def _is_empty(value: FieldValue) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _pick(
    field_name: str,
    mine: _V,
    theirs: _V,
    filled: list[FilledField],
    conflicts: list[FieldConflict],
) -> _V:
    if _is_empty(theirs) or mine == theirs:
        return mine
    if _is_empty(mine):
        filled.append(FilledField(field_name, theirs))
        return theirs
    conflicts.append(FieldConflict(field_name, mine, theirs))
    return mine
