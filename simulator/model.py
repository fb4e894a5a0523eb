"""What a what-if run takes: recorded arrivals, a line's setup, and how its operators behave.

Plain frozen values: the engine (``simulator.engine``) never reads a clock or a database.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from config.schedule import Schedule
from router.snapshots import LinePolicy


@dataclass(frozen=True, slots=True)
class Arrival:
    """One recorded dialog: when it arrived, on which channel, from which client.

    ``patience_s`` is how long the client waited before leaving a dialog nobody answered
    (None: they waited as long as it took). ``previous_operator`` serves lines that return
    a client to the operator they had last.
    """

    dialog_id: int
    at: datetime
    channel_id: int = 0
    client_id: int = 0
    patience_s: float | None = None
    previous_operator: int | None = None


@dataclass(frozen=True, slots=True)
class OperatorPlan:
    """One queue member in a setup: their limits, and when they are online.

    ``shifts`` are their working hours (None: online the whole period); ``present`` False
    takes them out of the period altogether (on leave) while they stay in the queue.
    """

    operator_id: int
    max_on_line: int | None = None
    max_total: int | None = None
    shifts: Schedule | None = None
    present: bool = True


@dataclass(frozen=True, slots=True)
class Setup:
    """A line as routing sees it, with its people: the current one or a proposal."""

    policy: LinePolicy
    operators: tuple[OperatorPlan, ...]
    long_wait_seconds: int = 120
    """A client waiting longer than this counts as waiting past the line's threshold."""


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How one operator behaved in the recorded period, as samples drawn with replacement.

    ``take_s``: seconds from an offer to taking it; ``first_response_s``: from getting a
    dialog to the first reply; ``duration_s``: from getting a dialog to its close;
    ``skip_probability``: the share of offers they passed on.
    """

    take_s: tuple[float, ...] = (10.0,)
    first_response_s: tuple[float, ...] = (30.0,)
    duration_s: tuple[float, ...] = (300.0,)
    skip_probability: float = 0.0

    def __post_init__(self) -> None:
        for name in ("take_s", "first_response_s", "duration_s"):
            samples = getattr(self, name)
            if not samples or min(samples) < 0:
                raise ValueError(f"{name} needs at least one sample, none negative")
        if not 0.0 <= self.skip_probability <= 1.0:
            raise ValueError(f"skip_probability must be within 0..1, got {self.skip_probability}")


@dataclass(frozen=True, slots=True)
class Behaviours:
    """Every operator's behaviour, with the line's pooled behaviour for anyone unrecorded."""

    by_operator: Mapping[int, Behaviour] = field(default_factory=dict)
    pooled: Behaviour = Behaviour()

    def of(self, operator_id: int) -> Behaviour:
        """The behaviour of ``operator_id``: their own, else the line's pooled one."""
        return self.by_operator.get(operator_id, self.pooled)


def draw(rng: random.Random, samples: Sequence[float]) -> float:
    """One sample, uniformly from ``samples`` (an empirical distribution)."""
    return samples[rng.randrange(len(samples))]
