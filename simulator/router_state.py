"""The state the router keeps in its database, as the replay holds it, and the intents applied
to it as ``router.actions`` applies them: dialog snapshots, the waiting queue, operator load and
presence, timers, and what the run records of each dialog.

What an intent sets off beyond that state is the replay's (``simulator.engine``): a timer's
event on the simulated clock, and operators reacting to an offer or working on a dialog.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import TypeVar

from router.distribution import OperatorState
from router.intents import (
    Assign,
    Audit,
    CancelTimer,
    Close,
    EndOffers,
    Intent,
    MarkHours,
    Offer,
    SetTimer,
    Unassign,
    Wait,
)
from router.snapshots import DialogSnapshot
from simulator.outcome import RunOutcome

T = TypeVar("T", DialogSnapshot, OperatorState)

_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls)) for cls in (DialogSnapshot, OperatorState)
}


def replace(value: T, **changes: object) -> T:
    """``dataclasses.replace`` for the two values the replay edits at every event.

    A tenth of its cost: the copy skips ``__init__``, whose checks the first value already
    passed and which ``dataclasses.replace`` spends most of its time getting to.
    """
    cls = type(value)
    copy = object.__new__(cls)
    for name in _FIELDS[cls]:
        object.__setattr__(copy, name, changes[name] if name in changes else getattr(value, name))
    return copy


class RouterState(ABC):
    """The router's state during one replay, changed only by the intents it applies."""

    def __init__(self, now: datetime, result: RunOutcome) -> None:
        self.now = now
        self.dialogs: dict[int, DialogSnapshot] = {}
        self.waiting: dict[int, None] = {}  # insertion order is arrival order
        self.timers: dict[str, int] = {}
        self.states: dict[int, OperatorState] = {}
        self.given: dict[int, int] = {}  # dialog -> generation of its current assignment
        self.result = result

    @abstractmethod
    def _set_timer(self, intent: SetTimer) -> None:
        """Arm ``intent``'s timer on the clock (a timer set again replaces the earlier one)."""

    @abstractmethod
    def _react_to_offer(self, dialog_id: int, operator_id: int, round_: int) -> None:
        """``operator_id`` sees the offer of ``dialog_id`` in round ``round_``."""

    @abstractmethod
    def _work_on(self, dialog_id: int, operator_id: int, may_skip: bool) -> None:
        """A dialog given to ``operator_id``: they answer and close it, or pass it on."""

    def _apply(self, intents: Sequence[Intent]) -> None:
        for intent in intents:
            self._apply_one(intent)

    def _apply_one(self, intent: Intent) -> None:
        if isinstance(intent, SetTimer):
            self._set_timer(intent)
        elif isinstance(intent, CancelTimer):
            self.timers.pop(intent.key, None)
        elif isinstance(intent, Audit):
            self.result.count(intent.event, intent.reason)
        elif isinstance(intent, Assign):
            self._assign(intent)
        elif isinstance(intent, Offer):
            self._offer(intent)
        elif isinstance(intent, EndOffers):
            self._end_offers(intent)
        elif isinstance(intent, Unassign):
            self._unassign(intent.dialog_id)
        elif isinstance(intent, Wait):
            self._edit(intent.dialog_id, wait_reason=intent.reason)
        elif isinstance(intent, MarkHours):
            self._edit(intent.dialog_id, began_in_hours=intent.in_hours)
            self.result.dialogs[intent.dialog_id].in_hours = intent.in_hours
        elif isinstance(intent, Close):
            self._closed(intent)

    def _edit(self, dialog_id: int, **changes: object) -> DialogSnapshot:
        dialog = self.dialogs[dialog_id] = replace(self.dialogs[dialog_id], **changes)
        return dialog

    def _load(self, operator_id: int, by: int) -> None:
        state = self.states[operator_id]
        self.states[operator_id] = replace(
            state,
            open_dialogs_on_line=max(0, state.open_dialogs_on_line + by),
            open_dialogs_total=max(0, state.open_dialogs_total + by),
        )
        if by > 0:
            self.result.load(operator_id, self.states[operator_id].open_dialogs_on_line)

    def _assign(self, intent: Assign) -> None:
        before = self.dialogs[intent.dialog_id]
        self._edit(
            intent.dialog_id,
            status="open",
            operator_id=intent.operator_id,
            wait_reason=None,
            offered_to=(),
            offer_exclusive=False,
        )
        self.waiting.pop(intent.dialog_id, None)
        self._load(intent.operator_id, 1)
        state = self.states[intent.operator_id]
        self.states[intent.operator_id] = replace(state, last_assigned_at=self.now)
        self.result.assigned(intent.dialog_id, intent.operator_id, self.now)
        taken = intent.operator_id in before.offered_to or before.offer_round > 0
        self._work_on(intent.dialog_id, intent.operator_id, may_skip=not taken)

    def _offer(self, intent: Offer) -> None:
        dialog = self.dialogs[intent.dialog_id]
        last = intent.operator_ids[0] if intent.exclusive else dialog.last_offered
        self._edit(
            intent.dialog_id,
            offered_to=intent.operator_ids,
            wait_reason=None,
            offer_exclusive=intent.exclusive,
            offer_round=intent.round,
            last_offered=last,
        )
        if intent.exclusive:
            self._load(intent.operator_ids[0], 1)
        for operator_id in intent.operator_ids:
            self._react_to_offer(intent.dialog_id, operator_id, intent.round)

    def _end_offers(self, intent: EndOffers) -> None:
        dialog = self.dialogs[intent.dialog_id]
        ending = intent.operator_ids or dialog.offered_to
        if dialog.offer_exclusive:
            for operator_id in ending:
                if operator_id in dialog.offered_to:
                    self._load(operator_id, -1)
        left = tuple(op for op in dialog.offered_to if op not in ending)
        self._edit(intent.dialog_id, offered_to=left)
        if intent.state == "skipped" and intent.operator_ids:
            self._edit(intent.dialog_id, skipped_by=dialog.skipped_by | set(intent.operator_ids))

    def _unassign(self, dialog_id: int) -> None:
        dialog = self.dialogs[dialog_id]
        if dialog.operator_id is not None:
            self._load(dialog.operator_id, -1)
        self._edit(dialog_id, status="waiting", operator_id=None)
        self.waiting[dialog_id] = None
        self.given[dialog_id] = self.given.get(dialog_id, 0) + 1
        self.result.dialogs[dialog_id].operator_id = None

    def _closed(self, intent: Close) -> None:
        dialog = self.dialogs[intent.dialog_id]
        if dialog.operator_id is not None:
            self._load(dialog.operator_id, -1)
        self._edit(intent.dialog_id, status="closed")
        self.waiting.pop(intent.dialog_id, None)
        self.result.dialogs[intent.dialog_id].closed(self.now, intent.outcome)
