"""Who sees a dialog: the one rule behind the console's dialog lists, the live events the
router publishes about dialogs and messages, and the delivery receipts it applies.

A dialog is seen by its operator or, while it has none, by every member of its line (in the
queue directly or through a group); by the colleagues invited into it and the supervisors who
joined it; by every admin; and by the managers of its line. ``dialog_audience`` answers for one
dialog (the router's fan-out); ``visible_dialogs`` is the same rule as a condition on
``Dialog`` for one operator (the console's lists).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, or_, select

from core.db.routing_schema import DialogParticipant, member_lines
from core.db.schema import Dialog
from core.roles import STATS_READER_ROLES


def dialog_audience(
    operator_id: int | None,
    line_members: Iterable[int],
    participants: Iterable[int],
    admins: Iterable[int],
    line_managers: Iterable[int],
) -> tuple[int, ...]:
    """The operators who see a dialog, in id order."""
    people = {operator_id} if operator_id is not None else set(line_members)
    people.update(participants)
    people.update(admins)
    people.update(line_managers)
    return tuple(sorted(people))


def visible_dialogs(operator_id: int | ColumnElement[int], role: str) -> ColumnElement[bool] | None:
    """The dialogs an operator sees, as a condition on ``Dialog``; None when they see all
    (an admin, or an analyst, who reads every dialog behind the statistics and changes
    nothing). A manager sees every dialog of their lines; anyone else the ones of their lines
    that have no operator. ``operator_id`` may be a bound parameter, for a statement built
    once and run for many operators."""
    if role in STATS_READER_ROLES:
        return None
    on_my_lines: ColumnElement[bool] = Dialog.line_id.in_(member_lines(operator_id))
    if role != "manager":
        on_my_lines = Dialog.operator_id.is_(None) & on_my_lines
    joined = select(DialogParticipant.dialog_id).where(DialogParticipant.operator_id == operator_id)
    return or_(Dialog.operator_id == operator_id, on_my_lines, Dialog.id.in_(joined))
