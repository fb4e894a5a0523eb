"""Who gets a new dialog: the pure distribution decision of a line.

Pure: it takes a snapshot of the line and its operators and the current instant, and returns
a ``Decision`` — whom to offer the dialog to (or nobody: it waits in the line's queue) with
every operator considered and why each one was passed over, for the routing audit. The shell
loads the snapshot, carries out the decision, and arms the no-answer timer at ``answer_by``.

Modes, as in Bitrix24 Open Lines:

* ``evenly`` — the eligible operator who has waited longest since their last new dialog;
  someone never assigned has waited longest of all; ties go to the earlier place in the queue.
* ``sequence`` — the next eligible operator after the last one offered, in queue order,
  wrapping around after the end of the queue. Pass ``last_offered=None`` to start at the head
  (a new dialog in "strictly in order" lines), or the line's last offer to rotate.
* ``all`` — every eligible operator at once; the first to answer takes the dialog.

When nobody answers within ``no_answer_seconds`` the shell decides again with the operator
who timed out as ``last_offered`` and everyone offered so far in ``excluded``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from config.modes import NO_ANSWER_SECONDS_MAX, NO_ANSWER_SECONDS_MIN, Mode

__all__ = [
    "NO_ANSWER_SECONDS_MAX",
    "NO_ANSWER_SECONDS_MIN",
    "Candidate",
    "Decision",
    "LineRouting",
    "Mode",
    "OperatorState",
    "PassedOver",
    "Status",
    "all_at_once",
    "choose_evenly",
    "decide_among",
    "decide_assignment",
    "eligibility",
    "next_in_sequence",
    "no_room",
    "refusal_by_hand",
]

Status = Literal["online", "away", "offline"]
"""An operator's presence: only ``online`` operators get new dialogs."""

PassedOver = Literal[
    "not_on_line",
    "offline",
    "away",
    "at_capacity_line",
    "at_capacity_total",
    "already_offered",
]
"""Why an operator cannot get the dialog; checked in this order, the first that holds wins."""


@dataclass(frozen=True, slots=True)
class OperatorState:
    """A snapshot of one operator as seen from one line.

    ``max_on_line`` and ``max_total`` are None for no limit. ``on_line`` says whether the
    operator is a member of the line; an operator must also be in the line's queue.
    """

    operator_id: int
    status: Status
    open_dialogs_on_line: int
    open_dialogs_total: int
    max_on_line: int | None
    max_total: int | None
    last_assigned_at: datetime | None
    on_line: bool

    def __post_init__(self) -> None:
        who = f"operator {self.operator_id}"
        if self.status not in get_args(Status):
            raise ValueError(f"{who}: unknown status {self.status!r}")
        if self.open_dialogs_on_line < 0 or self.open_dialogs_total < 0:
            raise ValueError(f"{who}: open dialog counts cannot be negative")
        for name in ("max_on_line", "max_total"):
            limit = getattr(self, name)
            if limit is not None and limit < 0:
                raise ValueError(f"{who}: {name} cannot be negative, got {limit}")
        if self.last_assigned_at is not None:
            _require_aware(self.last_assigned_at, f"{who}: last_assigned_at")


@dataclass(frozen=True, slots=True)
class LineRouting:
    """How a line distributes dialogs: its mode, its queue of operator ids in order, and how
    long an offer waits for an answer before the dialog goes to someone else."""

    line_id: int
    mode: Mode
    queue: tuple[int, ...]
    no_answer_seconds: int

    def __post_init__(self) -> None:
        if self.mode not in get_args(Mode):
            raise ValueError(f"line {self.line_id}: unknown distribution mode {self.mode!r}")
        if len(set(self.queue)) != len(self.queue):
            raise ValueError(f"line {self.line_id}: an operator is in the queue twice")
        if not NO_ANSWER_SECONDS_MIN <= self.no_answer_seconds <= NO_ANSWER_SECONDS_MAX:
            raise ValueError(
                f"line {self.line_id}: no_answer_seconds must be within "
                f"{NO_ANSWER_SECONDS_MIN}..{NO_ANSWER_SECONDS_MAX}, got {self.no_answer_seconds}"
            )


@dataclass(frozen=True, slots=True)
class Candidate:
    """One operator considered for a dialog.

    ``passed_over`` is None for an eligible operator. ``idle_for`` is the time since their
    last new dialog, None if they never had one.
    """

    operator_id: int
    passed_over: PassedOver | None
    idle_for: timedelta | None

    @property
    def eligible(self) -> bool:
        """Whether the operator may get the dialog."""
        return self.passed_over is None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of distributing one dialog, and its audit record.

    ``chosen`` is None when nobody is eligible: the dialog waits in the line's queue.
    ``candidates`` lists every operator considered: the queue in order, then any operator
    in the snapshot who is not in it. ``answer_by`` is when the offer times out.
    """

    line_id: int
    mode: Mode
    chosen: tuple[int, ...] | None
    candidates: tuple[Candidate, ...]
    decided_at: datetime
    last_offered: int | None
    answer_by: datetime | None


def eligibility(
    line: LineRouting,
    operators: Iterable[OperatorState],
    now: datetime,
    excluded: Iterable[int] = frozenset(),
) -> list[Candidate]:
    """Judge every operator of the line for a new dialog, in queue order.

    Operators in ``excluded`` (already offered this dialog, or who passed it on) are passed
    over as ``already_offered``. A queue member missing from ``operators`` has no known
    presence and counts as offline; an operator in ``operators`` but not in the queue is
    listed after the queue as ``not_on_line``.
    """
    _require_aware(now, "now")
    states: dict[int, OperatorState] = {}
    for state in operators:
        if state.operator_id in states:
            raise ValueError(f"operator {state.operator_id} appears twice in the snapshot")
        states[state.operator_id] = state
    offered = frozenset(excluded)
    candidates = []
    for operator_id in line.queue:
        member = states.get(operator_id)
        if member is None:
            candidates.append(Candidate(operator_id, "offline", None))
        else:
            reason = _passed_over(member, offered)
            candidates.append(Candidate(operator_id, reason, _idle(member, now)))
    queued = frozenset(line.queue)
    candidates.extend(
        Candidate(state.operator_id, "not_on_line", _idle(state, now))
        for state in states.values()
        if state.operator_id not in queued
    )
    return candidates


def choose_evenly(candidates: Sequence[Candidate]) -> int | None:
    """The eligible candidate idle longest (never assigned first), earliest in the list on a
    tie; None if nobody is eligible."""
    best: Candidate | None = None
    for candidate in candidates:
        if candidate.eligible and (best is None or _idle_longer(candidate, best)):
            best = candidate
    return None if best is None else best.operator_id


def next_in_sequence(candidates: Sequence[Candidate], last_offered: int | None) -> int | None:
    """The first eligible candidate after ``last_offered`` in list (queue) order, wrapping
    around; None if nobody is eligible.

    With ``last_offered`` None, or no longer on the list, the search starts at the head.
    ``last_offered`` itself comes last, so a lone eligible operator is offered again.
    """
    ids = [candidate.operator_id for candidate in candidates]
    start = ids.index(last_offered) + 1 if last_offered in ids else 0
    for candidate in (*candidates[start:], *candidates[:start]):
        if candidate.eligible:
            return candidate.operator_id
    return None


def all_at_once(candidates: Sequence[Candidate]) -> tuple[int, ...]:
    """Every eligible candidate, in list (queue) order."""
    return tuple(candidate.operator_id for candidate in candidates if candidate.eligible)


def decide_assignment(
    line: LineRouting,
    operators: Iterable[OperatorState],
    now: datetime,
    last_offered: int | None = None,
    excluded: Iterable[int] = frozenset(),
) -> Decision:
    """Decide who gets a new dialog on ``line`` at ``now``, by the line's mode."""
    return decide_among(line, eligibility(line, operators, now, excluded), now, last_offered)


def decide_among(
    line: LineRouting,
    candidates: Sequence[Candidate],
    now: datetime,
    last_offered: int | None = None,
) -> Decision:
    """``decide_assignment`` over candidates ``eligibility`` already judged."""
    chosen: tuple[int, ...] | None
    if line.mode == "all":
        chosen = all_at_once(candidates) or None
    else:
        if line.mode == "evenly":
            one = choose_evenly(candidates)
        else:
            one = next_in_sequence(candidates, last_offered)
        chosen = None if one is None else (one,)
    return Decision(
        line_id=line.line_id,
        mode=line.mode,
        chosen=chosen,
        candidates=tuple(candidates),
        decided_at=now,
        last_offered=last_offered,
        answer_by=None if chosen is None else now + timedelta(seconds=line.no_answer_seconds),
    )


def no_room(state: OperatorState) -> PassedOver | None:
    """Which limit the operator has reached, the line's first; None while they have room."""
    if state.max_on_line is not None and state.open_dialogs_on_line >= state.max_on_line:
        return "at_capacity_line"
    if state.max_total is not None and state.open_dialogs_total >= state.max_total:
        return "at_capacity_total"
    return None


def refusal_by_hand(
    line: LineRouting, operators: Sequence[OperatorState], operator_id: int, now: datetime
) -> PassedOver | None:
    """Why ``operator_id`` may not be handed a dialog of the line by a person (a take or a
    transfer): not on the line, offline, or no room; None if they may.

    Away is no refusal: someone away still works when they choose to. Their limits hold all
    the same, though ``eligibility`` reports them as ``away`` and not ``at_capacity_*``: the
    limits are checked here on their own, so an away operator cannot take past them.
    """
    judged = next(
        (c for c in eligibility(line, operators, now) if c.operator_id == operator_id), None
    )
    if judged is None or judged.passed_over in ("not_on_line", "offline"):
        return "not_on_line" if judged is None else judged.passed_over
    state = next(s for s in operators if s.operator_id == operator_id)
    return no_room(state)


def _passed_over(state: OperatorState, excluded: frozenset[int]) -> PassedOver | None:
    # Membership and presence before load: the audit should say "away", not "at capacity",
    # for someone who is both, since coming back is what would make them eligible first.
    if not state.on_line:
        return "not_on_line"
    if state.status != "online":
        return state.status
    if full := no_room(state):
        return full
    if state.operator_id in excluded:
        return "already_offered"
    return None


def _idle(state: OperatorState, now: datetime) -> timedelta | None:
    return None if state.last_assigned_at is None else now - state.last_assigned_at


def _idle_longer(candidate: Candidate, than: Candidate) -> bool:
    # Strictly longer, so the earlier candidate in queue order keeps a tie.
    if than.idle_for is None:
        return False
    return candidate.idle_for is None or candidate.idle_for > than.idle_for


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {at.isoformat()}")
