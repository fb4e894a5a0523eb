"""What one run produced: each dialog's wait and answer, and the counts the page compares."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from router.snapshots import DialogSnapshot


@dataclass(slots=True)
class DialogOutcome:
    """One dialog of a run: when it arrived, got an operator, got an answer, and closed."""

    arrived: datetime
    assigned_at: datetime | None = None
    operator_id: int | None = None
    first_response: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    in_hours: bool = True

    @property
    def wait_s(self) -> float | None:
        """Seconds from arrival to the first operator; None if nobody got it."""
        if self.assigned_at is None:
            return None
        return (self.assigned_at - self.arrived).total_seconds()

    @property
    def first_response_s(self) -> float | None:
        """Seconds from arrival to the first answer; None if it was never answered."""
        if self.first_response is None:
            return None
        return (self.first_response - self.arrived).total_seconds()

    def closed(self, at: datetime, outcome: str) -> None:
        """The dialog closed at ``at`` with the statistics outcome ``outcome``."""
        self.closed_at, self.outcome = at, outcome


@dataclass(slots=True)
class RunOutcome:
    """Everything one seeded run recorded."""

    seed: int
    dialogs: dict[int, DialogOutcome] = field(default_factory=dict)
    events: Counter[str] = field(default_factory=Counter)
    peak_load: dict[int, int] = field(default_factory=dict)
    handled: Counter[int] = field(default_factory=Counter)
    unfinished: int = 0

    def count(self, event: str, reason: str) -> None:
        """Count a routing audit record (``skip``, ``timeout``, ``wait:out_of_hours``…)."""
        self.events[event] += 1
        if reason:
            self.events[f"{event}:{reason}"] += 1

    def load(self, operator_id: int, on_line: int) -> None:
        """An operator's load on the line rose to ``on_line``."""
        self.peak_load[operator_id] = max(self.peak_load.get(operator_id, 0), on_line)

    def assigned(self, dialog_id: int, operator_id: int, at: datetime) -> None:
        """The dialog went to ``operator_id`` at ``at`` (the first assignment sets the wait)."""
        record = self.dialogs[dialog_id]
        if record.assigned_at is None:
            record.assigned_at = at
        record.operator_id = operator_id
        self.handled[operator_id] += 1

    def finish(self, snapshots: Iterable[DialogSnapshot]) -> None:
        """The period ended: count dialogs still waiting then."""
        self.unfinished = sum(1 for d in snapshots if d.status == "waiting")
