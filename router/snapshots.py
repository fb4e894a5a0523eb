"""What the pure routing decisions take: a line's policy and a dialog's snapshot, plain values
read by ``router.reads`` and never by the decisions themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from config.lines import LineSettings
from config.modes import Mode
from config.schedule import Schedule, is_open
from router.distribution import LineRouting, OperatorState
from router.intents import Audit

OPEN_STATUSES = ("waiting", "open")
"""A dialog's statuses while it is open: waiting for an operator, or held by one."""

Status = Literal["waiting", "open", "closed"]


@dataclass(frozen=True, slots=True)
class Replies:
    """Auto-reply texts of a line; empty means not sent."""

    greeting: str = ""
    no_answer: str = ""
    out_of_hours: str = ""
    close: str = ""


@dataclass(frozen=True, slots=True)
class LinePolicy:
    """Everything the routing rules need to know about a line."""

    line_id: int
    mode: Mode
    queue: tuple[int, ...]
    offer_seconds: int = 60
    schedule: Schedule | None = None
    out_of_hours: Literal["wait", "route"] = "wait"
    out_of_hours_when_offline: bool = False
    returning: Literal["none", "last_operator", "crm_responsible"] = "none"
    replies: Replies = Replies()
    no_answer_seconds: int | None = None
    no_answer_action: Literal["wait", "requeue", "nothing"] = "wait"
    rating: Literal["none", "stars", "like"] = "none"
    auto_close_minutes: int | None = None
    remind_operator_minutes: int | None = None
    remind_manager_minutes: int | None = None

    @property
    def routing(self) -> LineRouting:
        """The distribution view of the line."""
        return LineRouting(self.line_id, self.mode, self.queue, self.offer_seconds)

    def is_open(self, now: datetime) -> bool:
        """Whether the line is within working hours at ``now`` (no schedule: always)."""
        return self.schedule is None or is_open(self.schedule, now)


@dataclass(frozen=True, slots=True)
class DialogSnapshot:
    """A dialog as routing sees it."""

    dialog_id: int
    line_id: int
    status: Status
    operator_id: int | None
    opened_at: datetime
    answered: bool = False
    offered_to: tuple[int, ...] = ()
    """Operators with a pending offer, in the order they were offered it."""
    offer_exclusive: bool = False
    offer_round: int = 0
    last_offered: int | None = None
    skipped_by: frozenset[int] = frozenset()
    """Operators who passed on this dialog: it is not offered to them again."""
    previous_operator: int | None = None
    """Who served the client's previous dialog on this line, for returning clients."""
    crm_responsible: int | None = None
    """The client's responsible operator in the CRM, for lines that return clients to them."""
    began_in_hours: bool | None = None
    wait_reason: str | None = None


def audit(dialog: DialogSnapshot, event: str, reason: str = "", **fields: object) -> Audit:
    """An audit record of ``dialog``."""
    return Audit(dialog.dialog_id, dialog.line_id, event, reason, **fields)  # type: ignore[arg-type]


def line_policy(
    line_id: int,
    distribution: str,
    settings: LineSettings,
    queue: Sequence[int],
    schedule: Schedule | None,
) -> LinePolicy:
    """The routing policy of a line from its stored distribution, settings and expanded queue.

    One rule for the live router and the what-if simulator: an unknown distribution routes
    evenly. ``schedule`` is the line's working hours already built in its zone (None: always
    open).
    """
    mode = distribution if distribution in ("evenly", "sequence", "all") else "evenly"
    replies = settings.auto_replies
    return LinePolicy(
        line_id=line_id,
        mode=mode,  # type: ignore[arg-type]
        queue=tuple(queue),
        offer_seconds=settings.offer_seconds,
        schedule=schedule,
        out_of_hours=settings.out_of_hours,
        out_of_hours_when_offline=settings.out_of_hours_when_offline,
        returning=settings.returning,
        replies=Replies(replies.greeting, replies.no_answer, replies.out_of_hours, replies.close),
        no_answer_seconds=settings.no_answer_seconds,
        no_answer_action=settings.no_answer_action,
        rating=settings.rating,
        auto_close_minutes=settings.auto_close_minutes,
        remind_operator_minutes=settings.remind_operator_minutes,
        remind_manager_minutes=settings.remind_manager_minutes,
    )


def line_limit(entry_limit: int | None, per_operator: int | None) -> int | None:
    """An operator's limit on a line: their queue entry's, else the line's per-operator one."""
    return entry_limit or per_operator


def member_state(
    operator_id: int,
    status: str,
    load: tuple[int, int],
    limits: tuple[int | None, int | None],
    last_assigned_at: datetime | None,
) -> OperatorState:
    """A queue member as distribution sees them.

    ``load`` is (open dialogs and exclusive offers on this line, the same on every line);
    ``limits`` is (the member's limit on the line, else the line's per-operator limit; the
    operator's overall limit). Any presence but online or away counts as offline.
    """
    return OperatorState(
        operator_id=operator_id,
        status=status if status in ("online", "away") else "offline",  # type: ignore[arg-type]
        open_dialogs_on_line=load[0],
        open_dialogs_total=load[1],
        max_on_line=limits[0],
        max_total=limits[1],
        last_assigned_at=last_assigned_at,
        on_line=True,
    )
