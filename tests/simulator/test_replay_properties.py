"""Properties of the replay over generated traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from router.snapshots import LinePolicy
from simulator import Arrival, Behaviour, Behaviours, OperatorPlan, Replay, Setup, replay

START = datetime(2026, 11, 23, tzinfo=UTC)

offsets = st.lists(st.integers(min_value=0, max_value=86_400), min_size=1, max_size=60)
durations = st.lists(st.floats(min_value=0, max_value=7200), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(
    offsets=offsets,
    durations=durations,
    operators=st.integers(min_value=1, max_value=4),
    mode=st.sampled_from(["evenly", "sequence", "all"]),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_unlimited_capacity_and_instant_operators_mean_no_dialog_waits(
    offsets: list[int], durations: list[float], operators: int, mode: str, seed: int
) -> None:
    instant = Behaviours(pooled=Behaviour((0.0,), (0.0,), tuple(durations)))
    queue = tuple(range(1, operators + 1))
    setup = Setup(
        LinePolicy(1, mode, queue),  # type: ignore[arg-type]
        tuple(OperatorPlan(op) for op in queue),
    )
    arrivals = [Arrival(n + 1, START + timedelta(seconds=s)) for n, s in enumerate(offsets)]
    run = replay(setup, arrivals, instant, seed, START + timedelta(days=2))
    assert [d.wait_s for d in run.dialogs.values()] == [0.0] * len(arrivals)
    assert sum(run.handled.values()) == len(arrivals)


@settings(max_examples=40, deadline=None)
@given(offsets=offsets, capacity=st.integers(min_value=1, max_value=3), seed=st.integers(0, 999))
def test_no_operator_holds_more_than_their_capacity_and_every_dialog_ends(
    offsets: list[int], capacity: int, seed: int
) -> None:
    varied = Behaviours(pooled=Behaviour((1.0, 30.0), (5.0, 60.0), (60.0, 900.0), 0.1))
    setup = Setup(
        LinePolicy(1, "sequence", (1, 2)),
        (OperatorPlan(1, max_on_line=capacity), OperatorPlan(2, max_on_line=capacity)),
    )
    arrivals = [Arrival(n + 1, START + timedelta(seconds=s)) for n, s in enumerate(offsets)]
    replay = Replay(setup, arrivals, varied, seed, START + timedelta(days=3))
    run = replay.run()
    assert all(peak <= capacity for peak in run.peak_load.values())
    # Every dialog ends, but one that both operators passed on: as in the router, it is never
    # offered to them again and waits for someone else.
    stuck = {n for n, d in run.dialogs.items() if d.closed_at is None}
    assert all(replay.dialogs[n].skipped_by == {1, 2} for n in stuck)
