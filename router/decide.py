"""Open-line routing decisions: pure functions from a snapshot and an instant to intents.

Every function takes the dialog as a ``DialogSnapshot``, the line as a ``LinePolicy``, the
line's operators as ``OperatorState``s (load counted from open dialogs and pending exclusive
offers, never from history) and ``now``; it returns the ``Intent``s the writer carries out in
order. Nothing here reads a clock, a database or Redis, so the rules are tested on plain data.

Modes (``router.distribution``): ``evenly`` assigns at once; ``sequence`` offers the dialog to
one operator at a time for ``offer_seconds``, then to the next in queue order, round and round;
``all`` offers it to every eligible operator and the first to take it gets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from config.schedule import next_opening
from router.distribution import (
    Candidate,
    OperatorState,
    decide_among,
    eligibility,
    refusal_by_hand,
)
from router.intents import (
    Assign,
    AuditCandidate,
    AutoReply,
    CancelTimer,
    EndOffers,
    Intent,
    MarkHours,
    Offer,
    SetTimer,
    Unassign,
    Wait,
    no_answer_timer,
    offer_timer,
    opening_timer,
)
from router.snapshots import DialogSnapshot, LinePolicy, Replies, audit

__all__ = [
    "WAITING_AT_ONCE",
    "DialogSnapshot",
    "LinePolicy",
    "Replies",
    "audit",
    "decide_offer_timeout",
    "decide_open",
    "decide_skip",
    "decide_take",
    "decide_unavailable",
    "loaded",
    "released",
    "route",
    "route_waiting",
]

WAITING_AT_ONCE = 200
"""How many of a line's waiting dialogs, oldest first, one ``route_waiting`` gives out: a long
queue goes out in steps as operators free up, and each step stays short."""


def route(
    dialog: DialogSnapshot,
    line: LinePolicy,
    operators: Sequence[OperatorState],
    now: datetime,
    *,
    after: int | None = None,
    exclude: Iterable[int] = (),
    why: str = "new",
) -> list[Intent]:
    """Distribute a waiting dialog that has no pending offer.

    ``after`` is the operator to rotate from (a sequential line's last offer); ``exclude``
    adds operators who must not get it this time (besides those who skipped it).
    """
    excluded = frozenset(exclude) | dialog.skipped_by
    if not line.is_open(now) and line.out_of_hours == "wait":
        return _wait_for_opening(dialog, line, now)
    candidates_all = eligibility(line.routing, operators, now, excluded)
    judged = tuple(AuditCandidate.of(c) for c in candidates_all)
    returned, detail = _return_to_own(dialog, line, candidates_all, judged)
    if returned:
        return returned
    decision = decide_among(line.routing, candidates_all, now, after)
    if decision.chosen is None:
        return [
            Wait(dialog.dialog_id, "nobody_eligible"),
            audit(
                dialog, "wait", "nobody_eligible", mode=line.mode, candidates=judged, detail=detail
            ),
        ]
    return _give_out(dialog, line, decision.chosen, now, why, judged, detail)


def _wait_for_opening(dialog: DialogSnapshot, line: LinePolicy, now: datetime) -> list[Intent]:
    """A closed line that holds its dialogs: wait, and wake the line when it opens."""
    assert line.schedule is not None
    candidates = tuple(AuditCandidate(op, "out_of_hours") for op in line.queue)
    intents: list[Intent] = [
        Wait(dialog.dialog_id, "out_of_hours"),
        audit(dialog, "wait", "out_of_hours", mode=line.mode, candidates=candidates),
    ]
    opens = next_opening(line.schedule, now)
    if opens is not None:
        key = opening_timer(line.line_id)
        intents.append(SetTimer(key, opens, (("line_id", line.line_id),)))
    return intents


def _return_to_own(
    dialog: DialogSnapshot,
    line: LinePolicy,
    candidates_all: Sequence[Candidate],
    judged: tuple[AuditCandidate, ...],
) -> tuple[list[Intent], str]:
    """A returning client's own operator gets the dialog when eligible; otherwise no intents
    and the audit detail that says why they did not get it."""
    preferred, reason = _returning_to(dialog, line)
    if preferred is None:
        return [], ""
    previous = next((c for c in candidates_all if c.operator_id == preferred), None)
    if previous is not None and previous.eligible:
        return [
            Assign(dialog.dialog_id, previous.operator_id),
            audit(
                dialog,
                "assign",
                reason,
                mode=line.mode,
                operator_id=previous.operator_id,
                candidates=judged,
            ),
        ], ""
    # Say why the client's own operator did not get it, beside the normal distribution.
    passed = "not_on_line" if previous is None else previous.passed_over
    return [], f"{reason} {preferred} passed over: {passed}"


def _give_out(
    dialog: DialogSnapshot,
    line: LinePolicy,
    chosen: tuple[int, ...],
    now: datetime,
    why: str,
    judged: tuple[AuditCandidate, ...],
    detail: str,
) -> list[Intent]:
    """Assign or offer the dialog to the chosen operators, as the line's mode has it."""
    if line.mode == "evenly":
        return [
            Assign(dialog.dialog_id, chosen[0]),
            audit(
                dialog,
                "assign",
                why,
                mode="evenly",
                operator_id=chosen[0],
                candidates=judged,
                detail=detail,
            ),
        ]
    round_ = dialog.offer_round + 1
    if line.mode == "sequence":
        answer_by = now + timedelta(seconds=line.offer_seconds)
        payload = (("dialog_id", dialog.dialog_id), ("round", round_), ("operator_id", chosen[0]))
        return [
            Offer(dialog.dialog_id, (chosen[0],), True, round_, answer_by),
            SetTimer(offer_timer(dialog.dialog_id), answer_by, payload),
            audit(
                dialog,
                "offer",
                why,
                mode="sequence",
                operator_id=chosen[0],
                candidates=judged,
                detail=detail,
            ),
        ]
    return [
        Offer(dialog.dialog_id, chosen, False, round_, None),
        audit(dialog, "offer", why, mode="all", candidates=judged, detail=detail),
    ]


def _returning_to(dialog: DialogSnapshot, line: LinePolicy) -> tuple[int | None, str]:
    """The operator a returning client goes back to on this line, and the audit reason."""
    if line.returning == "last_operator" and dialog.previous_operator is not None:
        return dialog.previous_operator, "returning_client"
    if line.returning == "crm_responsible" and dialog.crm_responsible is not None:
        return dialog.crm_responsible, "crm_responsible"
    return None, ""


def released(operators: Sequence[OperatorState], operator_id: int) -> list[OperatorState]:
    """The snapshot after ``operator_id`` let go of one dialog of this line."""
    return [
        replace(
            s,
            open_dialogs_on_line=max(0, s.open_dialogs_on_line - 1),
            open_dialogs_total=max(0, s.open_dialogs_total - 1),
        )
        if s.operator_id == operator_id
        else s
        for s in operators
    ]


def loaded(operators: Sequence[OperatorState], operator_id: int) -> list[OperatorState]:
    """The snapshot after ``operator_id`` got one more dialog of this line."""
    return [
        replace(
            s,
            open_dialogs_on_line=s.open_dialogs_on_line + 1,
            open_dialogs_total=s.open_dialogs_total + 1,
        )
        if s.operator_id == operator_id
        else s
        for s in operators
    ]


def decide_open(
    dialog: DialogSnapshot, line: LinePolicy, operators: Sequence[OperatorState], now: datetime
) -> list[Intent]:
    """A new dialog: record working hours, greet or answer out of hours, arm timers, route."""
    in_hours = line.is_open(now)
    intents: list[Intent] = [MarkHours(dialog.dialog_id, in_hours)]
    # Nobody online on an open line answers like a closed one, when the line says so: the
    # visitor then knows the answer comes later (by email, if they left one).
    unattended = not in_hours or (
        line.out_of_hours_when_offline and not _anyone_online(line, operators)
    )
    if unattended and line.replies.out_of_hours:
        intents.append(AutoReply(dialog.dialog_id, "out_of_hours", line.replies.out_of_hours))
    elif in_hours and line.replies.greeting:
        intents.append(AutoReply(dialog.dialog_id, "greeting", line.replies.greeting))
    if line.no_answer_seconds is not None:
        due = now + timedelta(seconds=line.no_answer_seconds)
        intents.append(
            SetTimer(no_answer_timer(dialog.dialog_id), due, (("dialog_id", dialog.dialog_id),))
        )
    intents.extend(route(dialog, line, operators, now))
    return intents


def _anyone_online(line: LinePolicy, operators: Sequence[OperatorState]) -> bool:
    """Whether one of the line's operators is online (busy or not: they will answer)."""
    return any(
        s.status == "online" and s.on_line and s.operator_id in line.queue for s in operators
    )


def decide_take(
    dialog: DialogSnapshot,
    line: LinePolicy,
    operators: Sequence[OperatorState],
    taker: int,
    now: datetime,
) -> list[Intent]:
    """An operator takes a waiting dialog: they get it if it is still free and they have room."""
    if dialog.status != "waiting" or dialog.operator_id is not None:
        reason = "closed" if dialog.status == "closed" else "already_taken"
        return [audit(dialog, "reject", reason, operator_id=taker)]
    if dialog.offered_to and taker not in dialog.offered_to:
        return [audit(dialog, "reject", "offered_to_someone_else", operator_id=taker)]
    # Capacity bounds takes as well as automatic assignment, for away operators too: as in
    # Rocket.Chat, where taking a queued chat past "max simultaneous chats" is refused. The
    # limit is what a manager set so nobody serves more clients than they can answer; a take
    # that ignored it would let the busiest operator hoard the queue. An exclusive offer to the
    # taker already counts as their load, so it is released before the room is measured.
    states = released(operators, taker) if dialog.offer_exclusive else list(operators)
    if refusal := refusal_by_hand(line.routing, states, taker, now):
        return [audit(dialog, "reject", refusal, operator_id=taker)]
    others = tuple(op for op in dialog.offered_to if op != taker)
    intents: list[Intent] = []
    if taker in dialog.offered_to:
        intents.append(EndOffers(dialog.dialog_id, "taken", (taker,)))
    if others:
        intents.append(EndOffers(dialog.dialog_id, "withdrawn", others))
    intents += [
        CancelTimer(offer_timer(dialog.dialog_id)),
        Assign(dialog.dialog_id, taker),
        audit(dialog, "take", "taken", mode=line.mode, operator_id=taker),
    ]
    return intents


def decide_skip(
    dialog: DialogSnapshot,
    line: LinePolicy,
    operators: Sequence[OperatorState],
    who: int,
    now: datetime,
) -> list[Intent]:
    """An operator passes on an offer, or on a dialog given to them that they have not answered."""
    later = replace(dialog, skipped_by=dialog.skipped_by | {who})
    if dialog.status == "waiting" and who in dialog.offered_to:
        intents: list[Intent] = [
            EndOffers(dialog.dialog_id, "skipped", (who,)),
            audit(dialog, "skip", "skipped", mode=line.mode, operator_id=who),
        ]
        if len(dialog.offered_to) > 1:
            return intents
        intents.append(CancelTimer(offer_timer(dialog.dialog_id)))
        states = released(operators, who) if dialog.offer_exclusive else operators
        return intents + route(later, line, states, now, after=who, why="skipped")
    if dialog.status == "open" and dialog.operator_id == who and not dialog.answered:
        waiting = replace(later, status="waiting", operator_id=None)
        return [
            Unassign(dialog.dialog_id),
            audit(dialog, "skip", "skipped", mode=line.mode, operator_id=who),
            *route(waiting, line, released(operators, who), now, after=who, why="skipped"),
        ]
    return [audit(dialog, "reject", "nothing_to_skip", operator_id=who)]


def decide_offer_timeout(
    dialog: DialogSnapshot,
    line: LinePolicy,
    operators: Sequence[OperatorState],
    operator_id: int,
    round_: int,
    now: datetime,
) -> list[Intent]:
    """A sequential offer ran out: the next operator in the queue gets the offer."""
    if (
        dialog.status != "waiting"
        or round_ != dialog.offer_round
        or operator_id not in dialog.offered_to
    ):
        return []  # a stale timer: the dialog moved on since it was armed
    return [
        EndOffers(dialog.dialog_id, "timed_out", (operator_id,)),
        audit(dialog, "timeout", "no_answer_in_time", mode=line.mode, operator_id=operator_id),
        *route(
            replace(dialog, offered_to=()),
            line,
            released(operators, operator_id),
            now,
            after=operator_id,
            why="previous_offer_timed_out",
        ),
    ]


def decide_unavailable(
    dialogs: Sequence[DialogSnapshot],
    line: LinePolicy,
    operators: Sequence[OperatorState],
    operator_id: int,
    status: str,
    now: datetime,
) -> list[Intent]:
    """An operator went away or offline: their pending offers on this line go to others."""
    intents: list[Intent] = []
    states = list(operators)
    for dialog in dialogs:
        if dialog.status != "waiting" or operator_id not in dialog.offered_to:
            continue
        intents += [
            EndOffers(dialog.dialog_id, "withdrawn", (operator_id,)),
            audit(dialog, "withdraw", status, mode=line.mode, operator_id=operator_id),
        ]
        if len(dialog.offered_to) > 1:
            continue
        intents.append(CancelTimer(offer_timer(dialog.dialog_id)))
        if dialog.offer_exclusive:
            states = released(states, operator_id)
        step = route(
            replace(dialog, offered_to=()), line, states, now, after=operator_id, why=status
        )
        states = _after(states, step, now)
        intents += step
    return intents


def route_waiting(
    dialogs: Sequence[DialogSnapshot],
    line: LinePolicy,
    operators: Sequence[OperatorState],
    now: datetime,
    why: str,
) -> list[Intent]:
    """Someone freed up or came online, or the line opened: give out the line's waiting
    dialogs that nobody holds an offer for, oldest first."""
    intents: list[Intent] = []
    states = list(operators)
    for dialog in sorted(dialogs, key=lambda d: (d.opened_at, d.dialog_id)):
        if dialog.status != "waiting" or dialog.offered_to:
            continue
        step = route(dialog, line, states, now, after=dialog.last_offered, why=why)
        if isinstance(step[0], Wait) and step[0].reason == dialog.wait_reason:
            continue  # nothing changed for it: no repeated audit records
        states = _after(states, step, now)
        intents += step
    return intents


def _after(
    states: list[OperatorState], step: Sequence[Intent], now: datetime
) -> list[OperatorState]:
    for intent in step:
        if isinstance(intent, Assign):
            states = [
                replace(s, last_assigned_at=now) if s.operator_id == intent.operator_id else s
                for s in loaded(states, intent.operator_id)
            ]
        elif isinstance(intent, Offer) and intent.exclusive:
            states = loaded(states, intent.operator_ids[0])
    return states
