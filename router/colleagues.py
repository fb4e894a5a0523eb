"""Transfers between operators and lines: pure decisions, like ``router.decide``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from router.decide import released, route
from router.distribution import OperatorState, refusal_by_hand
from router.intents import Assign, CancelTimer, EndOffers, Intent, MoveToLine, Unassign, offer_timer
from router.snapshots import DialogSnapshot, LinePolicy, audit


def decide_transfer_to_operator(
    dialog: DialogSnapshot,
    line: LinePolicy,
    operators: Sequence[OperatorState],
    target: int,
    now: datetime,
    *,
    takeover: bool = False,
    comment: str = "",
) -> list[Intent]:
    """Hand the dialog to ``target``, keeping its history; a supervisor's takeover skips the
    queue and load rules, anyone else's target must be on the line, present and have room."""
    if dialog.status == "closed":
        return [audit(dialog, "reject", "closed", operator_id=target)]
    if dialog.operator_id == target:
        return [audit(dialog, "reject", "already_theirs", operator_id=target)]
    states = list(operators)
    if dialog.operator_id is not None:
        states = released(states, dialog.operator_id)
    if not takeover and (refusal := refusal_by_hand(line.routing, states, target, now)):
        return [audit(dialog, "reject", refusal, operator_id=target, detail=comment)]
    intents: list[Intent] = []
    if dialog.offered_to:
        intents.append(EndOffers(dialog.dialog_id, "withdrawn"))
    intents += [
        CancelTimer(offer_timer(dialog.dialog_id)),
        Assign(dialog.dialog_id, target),
        audit(
            dialog,
            "transfer",
            "takeover" if takeover else "to_operator",
            mode=line.mode,
            operator_id=target,
            detail=comment,
        ),
    ]
    return intents


def decide_transfer_to_line(
    dialog: DialogSnapshot,
    target: LinePolicy,
    operators: Sequence[OperatorState],
    now: datetime,
    comment: str = "",
) -> list[Intent]:
    """Move the dialog into another line's queue and distribute it there by that line's rules.

    ``operators`` are the target line's operators."""
    if dialog.status == "closed":
        return [audit(dialog, "reject", "closed")]
    if target.line_id == dialog.line_id:
        return [audit(dialog, "reject", "same_line")]
    intents: list[Intent] = []
    if dialog.offered_to:
        intents.append(EndOffers(dialog.dialog_id, "withdrawn"))
    intents.append(CancelTimer(offer_timer(dialog.dialog_id)))
    if dialog.operator_id is not None:
        intents.append(Unassign(dialog.dialog_id))
    intents += [
        audit(dialog, "transfer", "to_line", detail=f"line {target.line_id}: {comment}".strip()),
        MoveToLine(dialog.dialog_id, target.line_id),
    ]
    moved = replace(
        dialog,
        line_id=target.line_id,
        status="waiting",
        operator_id=None,
        offered_to=(),
        offer_exclusive=False,
        skipped_by=frozenset(),
        last_offered=None,
    )
    return intents + route(moved, target, operators, now, why="transferred")
