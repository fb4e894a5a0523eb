"""The discrete-event replay of one period through the live router's decisions.

Every routing choice comes from ``router.decide`` and ``router.lifecycle`` — the same pure
functions the router calls — with a simulated clock; the state the router keeps in its
database (dialog snapshots, operator load and presence) and the intents applied to it as
``router.actions`` does are ``simulator.router_state``'s. This module runs the clock and plays
the operators: they take or skip offers, answer, and close after times drawn from their
recorded behaviour with a seeded generator.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

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
from router.intents import SetTimer
from router.lifecycle import decide_close, decide_no_answer
from router.snapshots import DialogSnapshot
from simulator.model import Arrival, Behaviours, Setup, draw
from simulator.outcome import DialogOutcome, RunOutcome
from simulator.router_state import RouterState, replace

Handler = Callable[[], None]


class Replay(RouterState):
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
        super().__init__(self.arrivals[0].at if self.arrivals else until, RunOutcome(seed=seed))
        self.events: list[tuple[datetime, int, Handler]] = []
        self.seq = 0

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
