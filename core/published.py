"""Payloads this process published lately and has not read back yet, by their encoded text.

In the one-process hub the router, the console and the connectors read, from Redis, most of
what they published to each other a moment before. Parsing and validating that JSON again cost
about 6 % of the hub's CPU a visitor message, for an object the process still had. So a payload
published to a stream that a reader of this process reads (``read_here``) is kept (``encoded``),
and the first reader here to read its text takes the object itself (``decoded``). Any other
text (another process's, a second reading, one let go for room) is parsed as before.

Kept entries are taken on their first read so that the objects die young, as parsed ones do:
kept for long, they would reach the collector's older generations. A stream nobody reads here
(the events a split router publishes for the console's process) keeps nothing.

Only payloads that can be shared are kept: frozen models whose fields hold no dict, list or
set, all the way down, so that no reader can change what the publisher holds. The rest (the
integrations' events with their free-form ``data``, say) are parsed as before. A reader's own
adapter still checks the object's type, so an entry on the wrong stream is refused as
malformed just as its JSON would be.
"""

from __future__ import annotations

import types
import typing
from collections import OrderedDict
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

T = TypeVar("T")

KEPT_MOST = 4096
"""Entries kept at most. Readers here take theirs within milliseconds, so the bound is only met
while a reader is stopped or behind (the oldest entries go first, to be parsed when read)."""

KEPT_CHARS_MOST = 4 * 1024 * 1024
"""Encoded text kept at most, in characters: the bound on memory behind such a reader."""

_read_here: set[str] = set()
_kept: OrderedDict[str, BaseModel] = OrderedDict()
_kept_chars = 0
_shareable: dict[type[BaseModel], bool] = {}


def read_here(stream: str) -> None:
    """Note that a reader of this process reads ``stream`` (a consumer or a tail)."""
    _read_here.add(stream)


def encoded(stream: str, payload: BaseModel) -> str:
    """``payload`` as a stream entry holds it, kept for a reader here when ``stream`` has one."""
    global _kept_chars
    text = payload.model_dump_json()
    if stream in _read_here and shareable(type(payload)) and text not in _kept:
        _kept[text] = payload
        _kept_chars += len(text)
        while len(_kept) > KEPT_MOST or _kept_chars > KEPT_CHARS_MOST:
            oldest, _payload = _kept.popitem(last=False)
            _kept_chars -= len(oldest)
    return text


def decoded(adapter: TypeAdapter[T], text: str) -> T:
    """``text`` as ``adapter`` reads it: the payload it was encoded from when this process
    encoded it and no reader took it yet, else parsed. Raises ``pydantic.ValidationError`` as
    parsing does."""
    global _kept_chars
    payload = _kept.pop(text, None)
    if payload is None:
        return adapter.validate_json(text)
    _kept_chars -= len(text)
    return adapter.validate_python(payload)  # an instance: its type is checked, not its fields


def forget_all() -> None:
    """Drop every kept payload and every stream noted as read here (for tests)."""
    global _kept_chars
    _kept.clear()
    _kept_chars = 0
    _read_here.clear()


def shareable(model: type[BaseModel]) -> bool:
    """Whether instances of ``model`` cannot be changed once made: frozen, and no field can
    hold a mutable container, in nested models too."""
    known = _shareable.get(model)
    if known is None:
        _shareable[model] = False  # a model that nests itself is judged on its other fields
        known = bool(model.model_config.get("frozen")) and all(
            _immutable(field.annotation) for field in model.model_fields.values()
        )
        _shareable[model] = known
    return known


_MUTABLE = (dict, list, set, bytearray)


def _immutable(annotation: Any) -> bool:
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return shareable(annotation)
        return not issubclass(annotation, _MUTABLE)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _immutable(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return True
    if origin in (typing.Union, types.UnionType, tuple, frozenset):
        return all(_immutable(arg) for arg in typing.get_args(annotation) if arg is not ...)
    return annotation is None
