"""Refusals an admin can act on: which field is wrong, said in a short sentence.

A form shows each sentence next to the input named by ``field`` (a dotted path such as
``settings.schedule.week.tue``), so the answer to a bad body is
``{"error": sentence, "field": path, "fields": [{"field": path, "message": sentence}]}``:
``error`` for callers that show one line, ``fields`` for forms that mark every input.

Pydantic's own wording ("Input should be greater than or equal to 60") and the schedule
checker's ("schedule.week.tue: expected a list, got str") are meant for developers; here they
become sentences such as "Enter 60 or more." and "Add the working hours of this day."
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from core.limits import InputError, loads_limited
from operator_console.bodies import Body

__all__ = [
    "FieldError",
    "field_error_response",
    "pydantic_field_errors",
    "read_form_body",
    "schedule_field_error",
]

B = TypeVar("B", bound=Body)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One refused field: its dotted path in the body and a sentence for the admin."""

    field: str
    message: str


def field_error_response(
    errors: Iterable[FieldError], kind: type[web.HTTPException] = web.HTTPBadRequest
) -> web.HTTPException:
    """A 400 (or ``kind``) carrying every refused field, the first also as ``error`` and
    ``field``."""
    found = list(errors) or [FieldError("body", "This cannot be saved.")]
    body = {
        "error": found[0].message,
        "field": found[0].field,
        "fields": [{"field": e.field, "message": e.message} for e in found],
    }
    return kind(text=json.dumps(body), content_type="application/json")


_BY_TYPE: dict[str, Callable[[dict[str, Any]], str]] = {
    "greater_than_equal": lambda c: f"Enter {c['ge']} or more.",
    "greater_than": lambda c: f"Enter more than {c['gt']}.",
    "less_than_equal": lambda c: f"Enter {c['le']} or less.",
    "less_than": lambda c: f"Enter less than {c['lt']}.",
    "int_parsing": lambda c: "Enter a whole number.",
    "int_type": lambda c: "Enter a whole number.",
    "int_from_float": lambda c: "Enter a whole number.",
    "bool_type": lambda c: "Choose yes or no.",
    "bool_parsing": lambda c: "Choose yes or no.",
    "string_type": lambda c: "Enter text here.",
    "string_too_short": lambda c: "Fill this in.",
    "string_too_long": lambda c: f"Keep this to {c['max_length']} characters or fewer.",
    "too_long": lambda c: f"Keep this to {c['max_length']} entries or fewer.",
    "literal_error": lambda c: f"Choose one of {c['expected']}.",
    "missing": lambda c: "Fill this in.",
    "extra_forbidden": lambda c: "This setting is not known here.",
    "dict_type": lambda c: "This needs a set of values, not a single one.",
    "model_type": lambda c: "This needs a set of values, not a single one.",
    "list_type": lambda c: "This needs a list.",
}

_PATTERNS: dict[str, str] = {
    "key": "Use lowercase letters, digits, '-' and '_', starting with a letter or digit.",
    "email": "Enter one email address such as name@example.com.",
}


def _sentence(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "string_pattern_mismatch":
        last = str(error["loc"][-1]) if error["loc"] else ""
        return _PATTERNS.get(last, "This is not in the expected form.")
    if kind == "value_error":
        text = str(error["msg"]).removeprefix("Value error, ")
        return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
    make = _BY_TYPE.get(kind)
    return make(ctx) if make else "This value cannot be used here."


def pydantic_field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Every error of ``exc`` as a field path (under ``prefix``) and a plain sentence."""
    out: list[FieldError] = []
    for error in exc.errors():
        parts = [prefix, *(str(p) for p in error["loc"])]
        path = ".".join(p for p in parts if p) or "body"
        out.append(FieldError(path, _sentence(error)))
    return out


# The schedule checker says "<where>: <what>"; <where> is dotted with [i] for list positions.
_SCHEDULE_SENTENCES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"expected a list"), lambda m: "Add the working hours of this day as a list."),
    (re.compile(r"expected a table of weekdays"), lambda m: "Give the hours of each weekday."),
    (re.compile(r"unknown weekday"), lambda m: "Use the weekdays mon to sun."),
    (re.compile(r"is given twice"), lambda m: "This weekday is given twice."),
    (re.compile(r"bad time ''"), lambda m: "Fill in both the start and the end."),
    (
        re.compile(r"bad time '?([^',]*)'?"),
        lambda m: f"'{m[1]}' is not a time; use 00:00 to 24:00.",
    ),
    (
        re.compile(r"empty interval"),
        lambda m: "An interval must end at another time than it starts.",
    ),
    (
        re.compile(r"intervals (\S+) and (\S+) overlap"),
        lambda m: f"The hours {m[1]} and {m[2]} overlap.",
    ),
    (re.compile(r"expected 'HH:MM-HH:MM'"), lambda m: "Give each interval as a start and an end."),
    (re.compile(r"no such (?:day|date) '?([^',]*)'?"), lambda m: f"There is no date {m[1]}."),
    (re.compile(r"bad date '?([^',]*)'?"), lambda m: f"'{m[1]}' is not a date; use YYYY-MM-DD."),
    (re.compile(r"range ends"), lambda m: "This range ends before it starts."),
    (re.compile(r"^required, the intervals"), lambda m: "Give the working hours of the week."),
    (re.compile(r"needs exactly the fields"), lambda m: "A range needs a first and a last day."),
    (
        re.compile(r"unknown time ?zone|time zone", re.IGNORECASE),
        lambda m: "Choose a time zone such as Europe/Berlin.",
    ),
]


def schedule_field_error(message: str, prefix: str = "settings") -> FieldError:
    """The schedule checker's "path: reason" as the field an admin typed it in.

    A position inside a day or the holiday list (``week.mon[1].start``) points at the day or
    the list: that is where the editor shows the sentence.
    """
    where, _, reason = message.partition(": ")
    if not reason:
        where, reason = "schedule", message
    where = re.sub(r"\[\d+\].*$", "", where)
    for pattern, sentence in _SCHEDULE_SENTENCES:
        match = pattern.search(reason)
        if match:
            text = sentence(match)
            break
    else:
        text = reason[:1].upper() + reason[1:].rstrip(".") + "."
    return FieldError(f"{prefix}.{where}" if prefix else where, text)


async def read_form_body(request: web.Request, model: type[B]) -> B:
    """The request's JSON body as ``model``, or a 400 naming each bad field in a sentence."""
    try:
        return model.model_validate(loads_limited(await request.read() or b"{}"))
    except InputError as exc:
        raise field_error_response([FieldError("body", f"This cannot be read: {exc}.")]) from None
    except ValidationError as exc:
        raise field_error_response(pydantic_field_errors(exc)) from exc
