"""What the routing decisions ask for: plain values ``router.actions.do_intents`` carries out.

Decisions never touch the database, Redis or the clock; they return a list of these, in the
order the writer must apply them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from router.distribution import Candidate

OfferEnd = Literal["taken", "skipped", "timed_out", "withdrawn"]
WaitReason = Literal["nobody_eligible", "out_of_hours"]
ReplyKind = Literal["greeting", "no_answer", "out_of_hours", "close"]
Outcome = Literal["answered", "missed", "out_of_hours", "client_left"]
ClosedBy = Literal["operator", "client", "auto"]
ReminderStage = Literal["operator", "manager"]


@dataclass(frozen=True, slots=True)
class AuditCandidate:
    """One operator considered, and why they were passed over (None: eligible)."""

    operator_id: int
    passed_over: str | None

    @classmethod
    def of(cls, candidate: Candidate) -> AuditCandidate:
        """The audit record of a distribution candidate."""
        return cls(candidate.operator_id, candidate.passed_over)


@dataclass(frozen=True, slots=True)
class Assign:
    """Give the dialog to an operator: it is open and theirs."""

    dialog_id: int
    operator_id: int


@dataclass(frozen=True, slots=True)
class Offer:
    """Offer a waiting dialog; ``exclusive`` offers (sequential lines) count as load."""

    dialog_id: int
    operator_ids: tuple[int, ...]
    exclusive: bool
    round: int
    answer_by: datetime | None


@dataclass(frozen=True, slots=True)
class EndOffers:
    """End pending offers of the dialog: to ``operator_ids``, or every one when empty."""

    dialog_id: int
    state: OfferEnd
    operator_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Unassign:
    """Take the dialog back from its operator: it waits again."""

    dialog_id: int


@dataclass(frozen=True, slots=True)
class Reopen:
    """A closed dialog is active again: its closing is undone and it waits with no operator
    (an ``Assign`` or the line's distribution follows)."""

    dialog_id: int


@dataclass(frozen=True, slots=True)
class Wait:
    """Nobody gets the dialog now; it waits in the line's queue."""

    dialog_id: int
    reason: WaitReason


@dataclass(frozen=True, slots=True)
class MoveToLine:
    """The dialog now belongs to another line (a transfer to a line's queue)."""

    dialog_id: int
    line_id: int


@dataclass(frozen=True, slots=True)
class MarkHours:
    """Record whether the dialog began in the line's working hours."""

    dialog_id: int
    in_hours: bool


@dataclass(frozen=True, slots=True)
class AutoReply:
    """Send the line's auto-reply of ``kind`` to the client."""

    dialog_id: int
    kind: ReplyKind
    text: str


@dataclass(frozen=True, slots=True)
class Note:
    """Store a hidden system note in the dialog (operators see it, the client never does)."""

    dialog_id: int
    text: str


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Arm (or move) timer ``key``."""

    key: str
    due_at: datetime
    payload: tuple[tuple[str, str | int | None], ...]
    if_absent: bool = False
    """Leave a pending timer of this key as it is (a reminder counts from the first message)."""


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Disarm timer ``key`` if it is pending."""

    key: str


@dataclass(frozen=True, slots=True)
class Remind:
    """Tell people a client has waited too long for an answer: the dialog's operator (or,
    without one, whoever sees it), or at the ``manager`` stage the line's managers."""

    dialog_id: int
    stage: ReminderStage
    waited_minutes: int


@dataclass(frozen=True, slots=True)
class Close:
    """Close the dialog with its statistics outcome."""

    dialog_id: int
    by: ClosedBy
    outcome: Outcome
    ask_rating: bool


@dataclass(frozen=True, slots=True)
class Audit:
    """A routing audit record."""

    dialog_id: int
    line_id: int
    event: str
    reason: str = ""
    mode: str | None = None
    operator_id: int | None = None
    candidates: tuple[AuditCandidate, ...] = field(default=())
    detail: str = ""


Intent = (
    Assign
    | Offer
    | EndOffers
    | Unassign
    | Reopen
    | Wait
    | MoveToLine
    | MarkHours
    | AutoReply
    | Note
    | SetTimer
    | CancelTimer
    | Close
    | Audit
    | Remind
)
"""Anything a decision may ask the writer to do."""

MOVES_LOAD = (Assign, Offer, EndOffers, Unassign, Reopen, MoveToLine, Close)
"""The intents that may change what an operator holds or is offered: an operator's load as
routing counts it (``router.reads.operator_states``)."""


def offer_timer(dialog_id: int) -> str:
    """Key of a dialog's sequential-offer timer."""
    return f"offer:{dialog_id}"


def no_answer_timer(dialog_id: int) -> str:
    """Key of a dialog's 'nobody answered' auto-reply timer."""
    return f"noanswer:{dialog_id}"


def auto_close_timer(dialog_id: int) -> str:
    """Key of a dialog's auto-close timer."""
    return f"autoclose:{dialog_id}"


def opening_timer(line_id: int) -> str:
    """Key of a line's next-opening timer (dialogs waiting for working hours go out then)."""
    return f"opening:{line_id}"


def reminder_timer(dialog_id: int) -> str:
    """Key of a dialog's unanswered-client reminder timer (one stage pending at a time)."""
    return f"remind:{dialog_id}"
