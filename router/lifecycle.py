"""Dialog lifecycle decisions beside distribution: no-answer, auto-close, close, rating.

Pure, like ``router.decide``: a snapshot and an instant in, intents out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from router.decide import released, route
from router.distribution import OperatorState
from router.intents import (
    Assign,
    AutoReply,
    CancelTimer,
    Close,
    ClosedBy,
    EndOffers,
    Intent,
    Outcome,
    Reopen,
    SetTimer,
    Unassign,
    auto_close_timer,
    no_answer_timer,
    offer_timer,
    reminder_timer,
)
from router.snapshots import DialogSnapshot, LinePolicy, audit


def decide_no_answer(
    dialog: DialogSnapshot, line: LinePolicy, operators: Sequence[OperatorState], now: datetime
) -> list[Intent]:
    """Nobody answered the client in time: the no-answer text, then the line's action."""
    if dialog.status == "closed" or dialog.answered:
        return []
    intents: list[Intent] = []
    if line.replies.no_answer:
        intents.append(AutoReply(dialog.dialog_id, "no_answer", line.replies.no_answer))
    intents.append(audit(dialog, "no_answer", line.no_answer_action, mode=line.mode))
    if line.no_answer_action == "requeue" and dialog.operator_id is not None:
        holder = dialog.operator_id
        waiting = replace(dialog, status="waiting", operator_id=None)
        intents += [
            Unassign(dialog.dialog_id),
            *route(
                waiting,
                line,
                released(operators, holder),
                now,
                after=holder,
                exclude=(holder,),
                why="no_answer",
            ),
        ]
    return intents


def decide_operator_message(dialog_id: int, line: LinePolicy, now: datetime) -> list[Intent]:
    """An operator answered: the client's silence from now on may auto-close the dialog.

    Only the dialog's id matters, so the reply path reads no snapshot for it."""
    intents: list[Intent] = [
        CancelTimer(no_answer_timer(dialog_id)),
        CancelTimer(reminder_timer(dialog_id)),
    ]
    if line.auto_close_minutes is not None:
        due = now + timedelta(minutes=line.auto_close_minutes)
        intents.append(SetTimer(auto_close_timer(dialog_id), due, (("dialog_id", dialog_id),)))
    return intents


def decide_client_message(dialog: DialogSnapshot, line: LinePolicy) -> list[Intent]:
    """The client spoke: they are not silent, so no auto-close until the next answer."""
    if line.auto_close_minutes is None:
        return []
    return [CancelTimer(auto_close_timer(dialog.dialog_id))]


def outcome(dialog: DialogSnapshot, by: ClosedBy) -> Outcome:
    """How a closing dialog counts in the statistics."""
    if dialog.answered:
        return "answered"
    if by == "client":
        return "client_left"
    if dialog.began_in_hours is False:
        return "out_of_hours"
    return "missed"


RATING_PROMPTS = {
    "stars": "Please rate this conversation: reply with a number from 1 to 5.",
    "like": "Did we help? Reply 👍 or 👎.",
}
"""Sent on close when a line asks for a rating but has no closing text of its own."""


def decide_close(
    dialog: DialogSnapshot, line: LinePolicy, by: ClosedBy, *, rating_controls: bool = False
) -> list[Intent]:
    """Close the dialog: outcome, closing text and rating request, every timer disarmed.

    ``rating_controls``: the client's channel asks for the rating with its own controls (the
    web chat's stars), so the "reply with a number" text would be a second, confusing prompt.
    """
    if dialog.status == "closed":
        return []
    ask = line.rating != "none" and by != "client"
    intents: list[Intent] = []
    if dialog.offered_to:
        intents.append(EndOffers(dialog.dialog_id, "withdrawn"))
    intents += [
        CancelTimer(offer_timer(dialog.dialog_id)),
        CancelTimer(no_answer_timer(dialog.dialog_id)),
        CancelTimer(auto_close_timer(dialog.dialog_id)),
    ]
    # The client cannot read a goodbye on a channel they closed themselves.
    if by != "client":
        prompt = RATING_PROMPTS.get(line.rating, "") if ask and not rating_controls else ""
        text = "\n".join(t for t in (line.replies.close, prompt) if t)
        if text:
            intents.append(AutoReply(dialog.dialog_id, "close", text))
    intents += [
        Close(dialog.dialog_id, by, outcome(dialog, by), ask),
        audit(dialog, "close", by),
    ]
    return intents


def decide_reopen(
    dialog: DialogSnapshot,
    line: LinePolicy,
    operators: Sequence[OperatorState],
    now: datetime,
    by: int,
) -> list[Intent]:
    """A supervisor (``by``) reopens a closed dialog: it is open again with its operator while
    they are still on the line, whatever their presence or load (the client's conversation
    goes on with the same person); otherwise it waits and the line distributes it."""
    if dialog.status != "closed":
        return []
    intents: list[Intent] = [Reopen(dialog.dialog_id), audit(dialog, "reopen", operator_id=by)]
    holder = dialog.operator_id
    if holder is not None and any(s.operator_id == holder for s in operators):
        return [
            *intents,
            Assign(dialog.dialog_id, holder),
            audit(dialog, "assign", "reopen", mode=line.mode, operator_id=holder),
        ]
    waiting = replace(dialog, status="waiting", operator_id=None, offered_to=())
    return [*intents, *route(waiting, line, operators, now, why="reopen")]


_LIKES = {"👍": 5, "like": 5, "+": 5, "👎": 1, "dislike": 1, "-": 1}


def parse_rating(text: str, kind: str) -> int | None:
    """A client's rating answer (1–5, or like/dislike as 5/1), or None if it is not one."""
    word = text.strip().lower().rstrip("!.").strip()
    if kind == "stars" and len(word) == 1 and word in "12345":
        return int(word)
    if kind == "like":
        return _LIKES.get(word)
    return None
