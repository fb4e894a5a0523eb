"""The discrete-event replay of one period through the live router's decisions.

Every routing choice comes from ``router.decide`` and ``router.lifecycle`` — the same pure
functions the router calls — with a simulated clock; this module only keeps the state the
router keeps in its database (dialog snapshots, operator load and presence), applies the
intents as ``router.actions`` does, and plays the operators: they take or skip offers, answer,
and close after times drawn from their recorded behaviour with a seeded generator.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import TypeVar

from config.schedule import open_spans
from router.decide import (
    WAITING_AT_ONCE,
    decide_offer_timeout,
    decide_open,
    decide_skip,
    decide_take,
    decide_unavailable,
    route_waiting,
)
from router.distribution import OperatorState, eligibility
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
from router.lifecycle import decide_close, decide_no_answer
from router.snapshots import DialogSnapshot
from simulator.model import Arrival, Behaviours, Setup, draw
from simulator.outcome import DialogOutcome, RunOutcome

Handler = Callable[[], None]
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


class Replay:
    """One seeded run of a setup over a period's arrivals.

    Build it, call ``run()`` once; the result is a ``RunOutcome``.
    """

    def __init__(
        self,
        setup: Setup,
        arrivals: Sequence[Arrival],
        behaviours: Behaviours,
        seed: int,
        until: datetime,
    ) -> None:
        self.setup = setup
        self.policy = setup.policy
        self.arrivals = sorted(arrivals, key=lambda a: (a.at, a.dialog_id))
        self.behaviours = behaviours
        self.rng = random.Random(seed)
        self.until = until
        self.now = self.arrivals[0].at if self.arrivals else until
        self.events: list[tuple[datetime, int, Handler]] = []
        self.seq = 0
        self.dialogs: dict[int, DialogSnapshot] = {}
        self.waiting: dict[int, None] = {}  # insertion order is arrival order
        self.timers: dict[str, int] = {}
        self.states: dict[int, OperatorState] = {}
        self.given: dict[int, int] = {}  # dialog -> generation of its current assignment
        self.result = RunOutcome(seed=seed)

    # --- the clock -----------------------------------------------------------------------

    def at(self, when: datetime, act: Handler) -> None:
        """Schedule ``act`` at ``when`` (never before now)."""
        self.seq += 1
        heapq.heappush(self.events, (max(when, self.now), self.seq, act))

    def run(self) -> RunOutcome:
        """Play every event up to ``until`` and return what happened."""
        self._start_operators()
        for arrival in self.arrivals:
            self.at(arrival.at, lambda a=arrival: self._arrive(a))  # type: ignore[misc]
        while self.events and self.events[0][0] <= self.until:
            self.now, _seq, act = heapq.heappop(self.events)
            act()
        self.result.finish(self.dialogs.values())
        return self.result

    # --- operators -----------------------------------------------------------------------

    def _start_operators(self) -> None:
        start = self.arrivals[0].at if self.arrivals else self.until
        for plan in self.setup.operators:
            if not plan.present:
                spans: list[tuple[datetime, datetime]] = []
            elif plan.shifts is None:
                spans = [(start, self.until + timedelta(days=1))]
            else:
                spans = open_spans(plan.shifts, start, self.until)
            online = bool(spans) and spans[0][0] <= start
            self.states[plan.operator_id] = OperatorState(
                operator_id=plan.operator_id,
                status="online" if online else "offline",
                open_dialogs_on_line=0,
                open_dialogs_total=0,
                max_on_line=plan.max_on_line,
                max_total=plan.max_total,
                last_assigned_at=None,
                on_line=True,
            )
            for opens, closes in spans:
                if opens > start:
                    self.at(opens, lambda op=plan.operator_id: self._presence(op, "online"))  # type: ignore[misc]
                self.at(closes, lambda op=plan.operator_id: self._presence(op, "offline"))  # type: ignore[misc]

    def _presence(self, operator_id: int, status: str) -> None:
        state = self.states[operator_id]
        if state.status == status:
            return
        self.states[operator_id] = replace(state, status=status)
        if status == "online":
            self._route_waiting("operator_online")
            return
        offered = [
            self.dialogs[d] for d in self.waiting if operator_id in self.dialogs[d].offered_to
        ]
        if offered:
            self._apply(
                decide_unavailable(
                    offered, self.policy, self._snapshot(), operator_id, status, self.now
                )
            )

    def _snapshot(self) -> list[OperatorState]:
        return list(self.states.values())

    # --- clients -------------------------------------------------------------------------

    def _arrive(self, arrival: Arrival) -> None:
        dialog = DialogSnapshot(
            dialog_id=arrival.dialog_id,
            line_id=self.policy.line_id,
            status="waiting",
            operator_id=None,
            opened_at=arrival.at,
            previous_operator=arrival.previous_operator,
        )
        self.dialogs[dialog.dialog_id] = dialog
        self.waiting[dialog.dialog_id] = None
        self.result.dialogs[dialog.dialog_id] = DialogOutcome(arrival.at)
        self._apply(decide_open(dialog, self.policy, self._snapshot(), self.now))
        if arrival.patience_s is not None:
            leave = arrival.at + timedelta(seconds=arrival.patience_s)
            self.at(leave, lambda: self._client_leaves(arrival.dialog_id))

    def _client_leaves(self, dialog_id: int) -> None:
        dialog = self.dialogs[dialog_id]
        if dialog.status == "waiting":
            self._apply(decide_close(dialog, self.policy, "client"))

    # --- operators' actions ----------------------------------------------------------------

    def _react_to_offer(self, dialog_id: int, operator_id: int, round_: int) -> None:
        behaviour = self.behaviours.of(operator_id)
        skips = self.rng.random() < behaviour.skip_probability
        after = timedelta(seconds=draw(self.rng, behaviour.take_s))
        self.at(self.now + after, lambda: self._answer_offer(dialog_id, operator_id, round_, skips))

    def _answer_offer(self, dialog_id: int, operator_id: int, round_: int, skips: bool) -> None:
        dialog = self.dialogs[dialog_id]
        if dialog.offer_round != round_ or operator_id not in dialog.offered_to:
            return  # the offer ended before they got to it
        decide = decide_skip if skips else decide_take
        self._apply(decide(dialog, self.policy, self._snapshot(), operator_id, self.now))

    def _work_on(self, dialog_id: int, operator_id: int, may_skip: bool) -> None:
        """A dialog given to ``operator_id``: they answer and close it, or pass it on."""
        behaviour = self.behaviours.of(operator_id)
        generation = self.given[dialog_id] = self.given.get(dialog_id, 0) + 1
        if may_skip and self.rng.random() < behaviour.skip_probability:
            after = timedelta(seconds=draw(self.rng, behaviour.take_s))
            self.at(self.now + after, lambda: self._pass_on(dialog_id, operator_id, generation))
            return
        answer = timedelta(seconds=draw(self.rng, behaviour.first_response_s))
        duration = timedelta(seconds=draw(self.rng, behaviour.duration_s))
        self.at(self.now + answer, lambda: self._answered(dialog_id, generation))
        self.at(self.now + max(duration, answer), lambda: self._close(dialog_id, generation))

    def _current(self, dialog_id: int, generation: int) -> DialogSnapshot | None:
        dialog = self.dialogs[dialog_id]
        if dialog.status != "open" or self.given.get(dialog_id) != generation:
            return None
        return dialog

    def _pass_on(self, dialog_id: int, operator_id: int, generation: int) -> None:
        if (dialog := self._current(dialog_id, generation)) is not None:
            self._apply(decide_skip(dialog, self.policy, self._snapshot(), operator_id, self.now))

    def _answered(self, dialog_id: int, generation: int) -> None:
        if (dialog := self._current(dialog_id, generation)) is not None:
            self.dialogs[dialog_id] = replace(dialog, answered=True)
            self.result.dialogs[dialog_id].first_response = self.now

    def _close(self, dialog_id: int, generation: int) -> None:
        if (dialog := self._current(dialog_id, generation)) is not None:
            self._apply(decide_close(dialog, self.policy, "operator"))
            self._route_waiting("operator_freed")
            if dialog.operator_id is not None:
                self._reach_for_offers(dialog.operator_id)

    def _reach_for_offers(self, operator_id: int) -> None:
        """Free again, an operator takes the oldest dialog still offered to them all at once
        (a take refused for want of room leaves the offer pending, as in the console)."""
        oldest = next((d for d in self.waiting if operator_id in self.dialogs[d].offered_to), None)
        if oldest is not None:
            round_ = self.dialogs[oldest].offer_round
            after = timedelta(seconds=draw(self.rng, self.behaviours.of(operator_id).take_s))
            self.at(
                self.now + after, lambda: self._answer_offer(oldest, operator_id, round_, False)
            )

    # --- timers --------------------------------------------------------------------------

    def _set_timer(self, intent: SetTimer) -> None:
        token = self.timers[intent.key] = self.timers.get(intent.key, 0) + 1
        payload = dict(intent.payload)
        self.at(intent.due_at, lambda: self._fire(intent.key, token, payload))

    def _fire(self, key: str, token: int, payload: dict[str, str | int | None]) -> None:
        if self.timers.get(key) != token:
            return  # cancelled or moved since
        del self.timers[key]
        kind = key.partition(":")[0]
        states = self._snapshot()
        if kind == "offer":
            dialog = self.dialogs[int(payload["dialog_id"] or 0)]
            operator_id, round_ = int(payload["operator_id"] or 0), int(payload["round"] or 0)
            self._apply(
                decide_offer_timeout(dialog, self.policy, states, operator_id, round_, self.now)
            )
        elif kind == "noanswer":
            dialog = self.dialogs[int(payload["dialog_id"] or 0)]
            self._apply(decide_no_answer(dialog, self.policy, states, self.now))
        elif kind == "opening":
            self._route_waiting("line_opened")

    # --- the router's waiting queue ---------------------------------------------------------

    def _route_waiting(self, why: str) -> None:
        """``route_waiting`` over the oldest waiting dialogs, as the router reads them.

        Given out a few at a time while anyone is eligible at all: once nobody is, every
        further dialog would only wait again, which changes nothing.
        """
        if not self.waiting:
            return
        ids = list(self.waiting)[:WAITING_AT_ONCE]
        step = 8
        for start in range(0, len(ids), step):
            if not self._anyone_free():
                return
            chunk = [self.dialogs[d] for d in ids[start : start + step]]
            self._apply(route_waiting(chunk, self.policy, self._snapshot(), self.now, why))

    def _anyone_free(self) -> bool:
        if not self.policy.is_open(self.now) and self.policy.out_of_hours == "wait":
            return False
        judged = eligibility(self.policy.routing, self._snapshot(), self.now)
        return any(c.eligible for c in judged)

    # --- intents, as router.actions carries them out ----------------------------------------

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


def replay(
    setup: Setup,
    arrivals: Sequence[Arrival],
    behaviours: Behaviours,
    seed: int,
    until: datetime,
) -> RunOutcome:
    """One seeded run of ``setup`` over ``arrivals`` up to ``until``."""
    return Replay(setup, arrivals, behaviours, seed, until).run()


__all__ = ["Replay", "replay"]
