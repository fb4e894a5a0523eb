"""Generated traffic with a known truth, for the benchmark and for checking the replay.

``generated_week`` makes a week of arrivals that follow a working day's curve; ``recorded``
plays it through a setup with operators whose true behaviour is known, and returns what a
database would hold afterwards. Fitting behaviour from that record (``fitted_behaviours``)
and replaying it must land near the recorded figures: that is the simulator's validation.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulator.engine import replay
from simulator.model import Arrival, Behaviour, Behaviours, Setup
from simulator.outcome import DialogOutcome

TOLERANCE_SHARE = 0.20
"""Replaying the current setup must give the recorded p50 and p90 wait within this share…"""
TOLERANCE_SECONDS = 10.0
"""…or within this many seconds, whichever is larger (a p50 of 0 s has no 20 %)."""


def within_tolerance(replayed: float, recorded: float) -> bool:
    """Whether a replayed figure reproduces the recorded one within the stated tolerance."""
    return abs(replayed - recorded) <= max(TOLERANCE_SHARE * abs(recorded), TOLERANCE_SECONDS)


def _day_curve(hour: float) -> float:
    """Relative arrival rate over a day: quiet at night, peaks late morning and afternoon."""
    return 0.05 + math.exp(-((hour - 11) ** 2) / 6) + 0.8 * math.exp(-((hour - 15.5) ** 2) / 5)


def generated_week(start: datetime, dialogs: int, seed: int) -> list[Arrival]:
    """``dialogs`` arrivals over the seven days from ``start``, following ``_day_curve``."""
    rng = random.Random(seed)
    minutes = 7 * 24 * 60
    weights = [
        _day_curve((m % 1440) / 60) * (0.4 if m // 1440 >= 5 else 1.0) for m in range(minutes)
    ]
    picked = sorted(rng.choices(range(minutes), weights=weights, k=dialogs))
    return [
        Arrival(
            dialog_id=n + 1,
            at=start + timedelta(minutes=m, seconds=rng.uniform(0, 60)),
            channel_id=1 + n % 3,
            client_id=1 + rng.randrange(dialogs),
        )
        for n, m in enumerate(picked)
    ]


def true_behaviours(operators: Sequence[int], seed: int) -> Behaviours:
    """Operators of different speeds, each with lognormal answer and dialog times."""
    rng = random.Random(seed)
    people = {}
    for operator_id in operators:
        speed = rng.uniform(0.7, 1.4)
        people[operator_id] = Behaviour(
            take_s=tuple(rng.lognormvariate(2.3, 0.6) for _ in range(300)),
            first_response_s=tuple(speed * rng.lognormvariate(3.4, 0.7) for _ in range(300)),
            duration_s=tuple(speed * rng.lognormvariate(6.0, 0.6) for _ in range(300)),
            skip_probability=rng.uniform(0.0, 0.08),
        )
    return Behaviours(people)


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the database holds after a period: each dialog as it went."""

    arrivals: tuple[Arrival, ...]
    dialogs: dict[int, DialogOutcome]


def recorded(
    setup: Setup, arrivals: Sequence[Arrival], truth: Behaviours, seed: int, until: datetime
) -> Recorded:
    """Play the period once with the true behaviour: the recorded reality."""
    run = replay(setup, arrivals, truth, seed, until)
    return Recorded(tuple(arrivals), run.dialogs)


def fitted_behaviours(record: Recorded, truth_take: Behaviours) -> Behaviours:
    """Behaviour fitted from the record, as ``simulator.history`` fits it from the database.

    Offers are not part of a ``DialogOutcome``, so taking and skipping come from
    ``truth_take``; answer and dialog times are the record's own.
    """
    answer: dict[int, list[float]] = defaultdict(list)
    duration: dict[int, list[float]] = defaultdict(list)
    for dialog in record.dialogs.values():
        if dialog.operator_id is None or dialog.assigned_at is None:
            continue
        if dialog.first_response is not None:
            answer[dialog.operator_id].append(
                (dialog.first_response - dialog.assigned_at).total_seconds()
            )
        if dialog.closed_at is not None:
            duration[dialog.operator_id].append(
                (dialog.closed_at - dialog.assigned_at).total_seconds()
            )
    people = {}
    for operator_id in set(answer) | set(duration):
        known = truth_take.of(operator_id)
        people[operator_id] = Behaviour(
            take_s=known.take_s,
            first_response_s=tuple(answer[operator_id]) or known.first_response_s,
            duration_s=tuple(duration[operator_id]) or known.duration_s,
            skip_probability=known.skip_probability,
        )
    return Behaviours(people)


def recorded_waits(record: Recorded) -> list[float]:
    """The recorded waits of the dialogs that got an operator."""
    return [w for d in record.dialogs.values() if (w := d.wait_s) is not None]
