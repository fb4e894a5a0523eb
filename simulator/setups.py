"""A line's setup as the console edits it, and the simulator's ``Setup`` built from it.

The form is the line editor's own — ``distribution``, ``timezone``, the ``LineSettings`` JSON
and the queue entries — plus what only a what-if asks: each operator's shifts and whether they
are present at all. The routing policy comes from ``router.snapshots.line_policy`` and the
queue order from ``router.queue_groups.expand_queue``, as the router builds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config.lines import LineSettings
from config.modes import Mode
from config.schedule import check_schedule
from router.queue_groups import QueueEntry, expand_queue
from router.snapshots import line_limit, line_policy
from simulator.model import OperatorPlan, Setup


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueItem(_Strict):
    """One queue entry: an operator or a group, with its limit on the line."""

    operator_id: int | None = None
    group_id: int | None = None
    max_open_dialogs: int | None = Field(default=None, ge=1, le=1000)

    @model_validator(mode="after")
    def _one_target(self) -> QueueItem:
        if (self.operator_id is None) == (self.group_id is None):
            raise ValueError("give exactly one of operator_id and group_id")
        return self


class Presence(_Strict):
    """When one operator works in the what-if: their shifts (None: the whole period)."""

    shifts: dict[str, Any] | None = None
    """``{"week": {"mon": ["09:00-17:00"]}, "holidays": [...]}`` in the line's zone."""
    present: bool = True
    max_open_dialogs: int | None = Field(default=None, ge=1, le=1000)
    """The operator's limit over all lines."""


class SetupForm(_Strict):
    """A line's setup as the what-if page sends it."""

    distribution: Mode = "evenly"
    timezone: str = Field(default="UTC", max_length=64)
    settings: dict[str, Any] = Field(default_factory=dict)
    queue: list[QueueItem] = Field(default_factory=list, max_length=500)
    operators: dict[int, Presence] = Field(default_factory=dict)


def build_setup(line_id: int, form: SetupForm, groups: Mapping[int, Sequence[int]]) -> Setup:
    """The simulator's setup of ``form``; ``groups`` are the members of each operator group.

    Raises ValueError naming the bad field, as the line editor does.
    """
    try:
        settings = LineSettings.model_validate(form.settings)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in ("settings", *first["loc"]))
        raise ValueError(f"{where}: {first['msg']}") from None
    try:
        schedule = settings.build_schedule(form.timezone)
    except ValueError as error:
        raise ValueError(f"settings.{error}") from None
    entries = [
        QueueEntry(position, item.operator_id, item.group_id, item.max_open_dialogs)
        for position, item in enumerate(form.queue)
    ]
    members = expand_queue(entries, groups)
    plans = []
    for member in members:
        presence = form.operators.get(member.operator_id, Presence())
        shifts = None
        if presence.shifts is not None:
            where = f"operators.{member.operator_id}.shifts"
            shifts = check_schedule({**presence.shifts, "timezone": form.timezone}, where=where)
        plans.append(
            OperatorPlan(
                operator_id=member.operator_id,
                max_on_line=line_limit(member.max_open_dialogs, settings.max_per_operator),
                max_total=presence.max_open_dialogs,
                shifts=shifts,
                present=presence.present,
            )
        )
    policy = line_policy(
        line_id, form.distribution, settings, [m.operator_id for m in members], schedule
    )
    return Setup(policy, tuple(plans), settings.long_wait_seconds)
