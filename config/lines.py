"""The typed schema of an open line: what ``[[lines]]`` in openlines.toml and the console's
line editor both describe.

``LineSettings`` is what the router needs beyond the columns of ``lines`` (it is stored as the
row's ``settings`` JSON); ``LineConfig`` adds the line's identity, its queue of operator logins
and its channel keys, as written in the config file.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from config.modes import NO_ANSWER_SECONDS_MAX, NO_ANSWER_SECONDS_MIN, Mode
from config.schedule import Schedule, check_schedule

__all__ = [
    "GROUP_PREFIX",
    "AutoReplies",
    "LineConfig",
    "LineCrm",
    "LineSettings",
    "LinesFile",
    "load_lines_file",
]


GROUP_PREFIX = "group:"
"""A queue entry starting with this names a group of operators instead of a login."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutoReplies(_Strict):
    """Texts the line sends by itself, in the line's language; empty: not sent."""

    greeting: str = Field(default="", max_length=2000)
    no_answer: str = Field(default="", max_length=2000)
    out_of_hours: str = Field(default="", max_length=2000)
    close: str = Field(default="", max_length=2000)


class LineCrm(_Strict):
    """What the CRM sink does for the line's dialogs (read by ``crm_sink.rules``)."""

    create_lead: bool = True
    """A first dialog of an unknown client creates a lead."""
    change_responsible_on_transfer: bool = True
    """A transfer makes the new operator the client's lead and contact responsible."""


class LineSettings(_Strict):
    """Routing knobs of a line (the ``settings`` JSON of its row)."""

    offer_seconds: int = Field(default=60, ge=NO_ANSWER_SECONDS_MIN, le=NO_ANSWER_SECONDS_MAX)
    """How long a sequential offer waits for the operator before it goes to the next one."""
    max_per_operator: int | None = Field(default=None, ge=1, le=1000)
    """Open dialogs of this line one operator may hold (a queue entry may say less)."""
    schedule: dict[str, Any] | None = None
    """Working hours: ``{"week": {...}, "holidays": [...]}``; the zone is the line's."""
    out_of_hours: Literal["wait", "route"] = "wait"
    """Outside working hours: wait for the next opening, or go to operators anyway."""
    out_of_hours_when_offline: bool = False
    """Send the out-of-hours auto-reply also to a new dialog that arrives within working
    hours while none of the line's operators is online."""
    returning: Literal["none", "last_operator", "crm_responsible"] = "none"
    """A returning client goes to the operator who served them last (``last_operator``) or to
    their responsible in the CRM (``crm_responsible``), when that operator can take it."""
    no_answer_seconds: int | None = Field(default=None, ge=10, le=86400)
    no_answer_action: Literal["wait", "requeue", "nothing"] = "wait"
    """After the no-answer text: keep waiting, return to the queue, or do nothing more."""
    auto_replies: AutoReplies = AutoReplies()
    rating: Literal["none", "stars", "like"] = "none"
    """On close ask for a rating: 1–5 stars, or like/dislike (stored as 5/1)."""
    auto_close_minutes: int | None = Field(default=None, ge=1, le=43200)
    """Close a dialog after the client stayed silent this long after an operator's answer."""
    remind_operator_minutes: int | None = Field(default=5, ge=1, le=1440)
    """A client left this long without an answer reminds the dialog's operator (None: never)."""
    remind_manager_minutes: int | None = Field(default=15, ge=1, le=1440)
    """A client left this long without an answer reminds the line's managers (None: never)."""
    long_wait_seconds: int = Field(default=120, ge=10, le=86400)
    """A client waiting in the queue longer than this is a long wait: the live load screen
    highlights it."""
    crm: LineCrm = LineCrm()

    @model_validator(mode="after")
    def _reminders_in_order(self) -> LineSettings:
        first, second = self.remind_operator_minutes, self.remind_manager_minutes
        if first is not None and second is not None and second <= first:
            raise ValueError("remind_manager_minutes must be later than remind_operator_minutes")
        return self

    @field_validator("schedule", mode="before")
    @classmethod
    def _plain_schedule(cls, raw: Any) -> Any:
        # TOML hands over dates and times as objects; JSON storage needs strings.
        return _plain(raw)

    def build_schedule(self, timezone: str) -> Schedule | None:
        """The line's working hours, or None for a line that is always open."""
        if self.schedule is None:
            return None
        return check_schedule({**self.schedule, "timezone": timezone}, where="schedule")


class LineConfig(LineSettings):
    """One ``[[lines]]`` entry of openlines.toml."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=255)
    language: str = Field(default="en", max_length=16)
    timezone: str = "UTC"
    mode: Mode = "evenly"
    queue: list[str] = Field(default_factory=list)
    """Operator logins in queue order; ``group:NAME`` puts a group of operators (made in the
    console) at that place, standing for whoever is in the group when a dialog is routed."""
    channels: list[str] = Field(default_factory=list)
    """Keys of the channels that belong to this line."""

    @model_validator(mode="after")
    def _check(self) -> LineConfig:
        if len(set(self.queue)) != len(self.queue):
            raise ValueError("queue: an operator is listed twice")
        if any(entry == GROUP_PREFIX for entry in self.queue):
            raise ValueError(f"queue: {GROUP_PREFIX!r} needs a group name")
        try:
            self.build_schedule(self.timezone)
        except ValueError as error:
            raise ValueError(str(error)) from None
        if self.schedule is None:
            check_schedule({"timezone": self.timezone, "week": {}}, where="timezone")
        return self

    def settings_json(self) -> dict[str, Any]:
        """The part stored in the row's ``settings``."""
        return LineSettings.model_validate(
            self.model_dump(include=set(LineSettings.model_fields))
        ).model_dump(mode="json")


class LinesFile(_Strict):
    """The ``lines`` array of openlines.toml."""

    lines: list[LineConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> LinesFile:
        keys = [line.key for line in self.lines]
        if len(set(keys)) != len(keys):
            raise ValueError("lines: two lines share a key")
        channels = [c for line in self.lines for c in line.channels]
        if len(set(channels)) != len(channels):
            raise ValueError("lines: a channel belongs to one line only")
        return self


def load_lines_file(path: Path) -> LinesFile:
    """The ``[[lines]]`` of a settings file (none when the file does not exist).

    Raises ValueError naming the file and the first bad field (``lines[0].offer_seconds``),
    so a hub with a bad file refuses to start with a message an admin can act on.
    """
    if not path.is_file():
        return LinesFile()
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: {error}") from None
    try:
        return LinesFile.model_validate({"lines": raw.get("lines", [])})
    except ValidationError as error:
        first = error.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{path}: {where.lstrip('.') or 'lines'}: {message}") from None


def _plain(raw: Any) -> Any:
    if isinstance(raw, dict):
        if set(raw) == {"from", "to"}:
            return f"{_plain(raw['from'])}..{_plain(raw['to'])}"
        return {str(k): _plain(v) for k, v in raw.items()}
    if isinstance(raw, list | tuple):
        return [_plain(v) for v in raw]
    if isinstance(raw, datetime):
        return raw.isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, time):
        return raw.strftime("%H:%M")
    return raw
