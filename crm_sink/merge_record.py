"""The JSON form of a ``MergeRecord``: how a merge is stored so that it can be undone later.

Kept apart from the merge rules: the rules decide, this module only writes and reads the
document, and refuses a malformed one with the path of the bad part (a record that cannot be
read back exactly must never be half-applied by an unmerge).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from crm_sink.merge import (
    CONTACT_SETS,
    LINK_SETS,
    FieldConflict,
    FieldValue,
    FilledField,
    MergeableClient,
    MergeRecord,
    MovedItems,
)

__all__ = ["record_from_json", "record_to_json"]

_FORMAT_VERSION = 1


def record_to_json(record: MergeRecord) -> str:
    """Serialise a record (sets as sorted lists, keys sorted, so the output is stable)."""
    document = {
        "version": _FORMAT_VERSION,
        "main_before": _client_to_dict(record.main_before),
        "dup_before": _client_to_dict(record.dup_before),
        "merged": _client_to_dict(record.merged),
        "moved": _sets_to_dict(record.moved),
        "filled": [{"field": f.field, "value": f.value} for f in record.filled],
        "conflicts": [
            {"field": c.field, "main_value": c.main_value, "dup_value": c.dup_value}
            for c in record.conflicts
        ],
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True)


def record_from_json(text: str) -> MergeRecord:
    """Parse what ``record_to_json`` wrote; ValueError naming the path of any malformed part."""
    document = _obj(json.loads(text), "record")
    version = _int(document.get("version"), "version")
    if version != _FORMAT_VERSION:
        raise ValueError(f"merge record: unsupported version {version}")
    filled = [
        FilledField(_str(item.get("field"), path), _value(item.get("value"), path))
        for path, item in _objs(document.get("filled"), "filled")
    ]
    conflicts = [
        FieldConflict(
            _str(item.get("field"), path),
            _value(item.get("main_value"), path),
            _value(item.get("dup_value"), path),
        )
        for path, item in _objs(document.get("conflicts"), "conflicts")
    ]
    return MergeRecord(
        main_before=_client_from_dict(document.get("main_before"), "main_before"),
        dup_before=_client_from_dict(document.get("dup_before"), "dup_before"),
        merged=_client_from_dict(document.get("merged"), "merged"),
        moved=MovedItems(**_sets_from_dict(_obj(document.get("moved"), "moved"), "moved")),
        filled=tuple(filled),
        conflicts=tuple(conflicts),
    )


def _client_to_dict(client: MergeableClient) -> dict[str, object]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "company": client.company,
        "responsible_id": client.responsible_id,
        "custom_fields": dict(client.custom_fields),
        "updated_at": client.updated_at.isoformat(),
        **_sets_to_dict(client),
    }


def _client_from_dict(raw: object, path: str) -> MergeableClient:
    data = _obj(raw, path)
    custom = _obj(data.get("custom_fields"), f"{path}.custom_fields")
    responsible = data.get("responsible_id")
    try:
        updated_at = datetime.fromisoformat(_str(data.get("updated_at"), f"{path}.updated_at"))
    except ValueError as error:
        raise ValueError(f"merge record: {path}.updated_at: {error}") from None
    return MergeableClient(
        client_id=_int(data.get("client_id"), f"{path}.client_id"),
        name=_str(data.get("name"), f"{path}.name"),
        company=_str(data.get("company"), f"{path}.company"),
        responsible_id=None if responsible is None else _int(responsible, f"{path}.responsible_id"),
        custom_fields={key: _str(value, f"{path}.custom_fields") for key, value in custom.items()},
        updated_at=updated_at,
        **_sets_from_dict(data, path),
    )


def _sets_to_dict(item: MergeableClient | MovedItems) -> dict[str, list[str] | list[int]]:
    return {name: sorted(getattr(item, name)) for name in (*CONTACT_SETS, *LINK_SETS)}


def _sets_from_dict(data: dict[str, object], path: str) -> dict[str, Any]:
    # Any because the names are spread into a constructor; each value is checked here.
    sets: dict[str, Any] = {}
    for name in CONTACT_SETS:
        where = f"{path}.{name}"
        sets[name] = frozenset(_str(item, where) for item in _list(data.get(name), where))
    for name in LINK_SETS:
        where = f"{path}.{name}"
        sets[name] = frozenset(_int(item, where) for item in _list(data.get(name), where))
    return sets


def _fail(path: str, expected: str, got: object) -> ValueError:
    return ValueError(f"merge record: {path}: expected {expected}, got {type(got).__name__}")


def _obj(raw: object, path: str) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise _fail(path, "an object", raw)
    return {str(key): value for key, value in raw.items()}


def _list(raw: object, path: str) -> list[object]:
    if not isinstance(raw, list):
        raise _fail(path, "a list", raw)
    return list(raw)


def _objs(raw: object, path: str) -> list[tuple[str, dict[str, object]]]:
    items = enumerate(_list(raw, path))
    return [(f"{path}[{i}]", _obj(item, f"{path}[{i}]")) for i, item in items]


def _str(raw: object, path: str) -> str:
    if not isinstance(raw, str):
        raise _fail(path, "a string", raw)
    return raw


def _int(raw: object, path: str) -> int:
    # bool is an int in Python but never a valid id.
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise _fail(path, "an integer", raw)
    return raw


def _value(raw: object, path: str) -> FieldValue:
    if raw is None or isinstance(raw, str):
        return raw
    return _int(raw, path)
