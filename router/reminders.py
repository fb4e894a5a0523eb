"""Reminders about clients left without an answer: pure decisions, like ``router.decide``.

A client's message that finds the dialog unanswered arms one timer per dialog; a later client
message leaves it alone, so the wait counts from the first unanswered message. An operator's
answer cancels it. When it fires the dialog's operator is reminded and the same timer is armed
again for the second stage, which reminds the line's managers. Each timer carries how many
answers the dialog had when it was armed: one that fires after an answer it raced is ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from router.intents import Intent, Remind, ReminderStage, SetTimer, reminder_timer
from router.snapshots import DialogSnapshot, LinePolicy


def arm_reminder(
    dialog: DialogSnapshot, line: LinePolicy, answers: int, now: datetime
) -> list[Intent]:
    """A client message arrived: start counting their wait, unless it is already counting."""
    if dialog.status == "closed":
        return []
    if line.remind_operator_minutes is not None:
        stage: ReminderStage = "operator"
        minutes = line.remind_operator_minutes
    elif line.remind_manager_minutes is not None:
        stage, minutes = "manager", line.remind_manager_minutes
    else:
        return []
    return [_timer(dialog.dialog_id, stage, minutes, answers, now + timedelta(minutes=minutes))]


def decide_reminder(
    dialog: DialogSnapshot,
    line: LinePolicy,
    stage: ReminderStage,
    answers_then: int,
    answers_now: int,
    now: datetime,
) -> list[Intent]:
    """A reminder timer fired: remind, and after the operator's stage arm the managers' one."""
    if dialog.status == "closed" or answers_now != answers_then:
        return []  # closed or answered since the timer was armed
    if stage == "manager":
        return [Remind(dialog.dialog_id, "manager", line.remind_manager_minutes or 0)]
    first = line.remind_operator_minutes or 0
    intents: list[Intent] = [Remind(dialog.dialog_id, "operator", first)]
    second = line.remind_manager_minutes
    if second is not None and second > first:
        due = now + timedelta(minutes=second - first)
        intents.append(_timer(dialog.dialog_id, "manager", second, answers_then, due, force=True))
    return intents


def _timer(
    dialog_id: int,
    stage: ReminderStage,
    minutes: int,
    answers: int,
    due: datetime,
    force: bool = False,
) -> SetTimer:
    payload: tuple[tuple[str, str | int | None], ...] = (
        ("dialog_id", dialog_id),
        ("stage", stage),
        ("minutes", minutes),
        ("answers", answers),
    )
    return SetTimer(reminder_timer(dialog_id), due, payload, if_absent=not force)
