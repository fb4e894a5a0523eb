"""The router's group commit: batches that wait for the transaction go in together, a failure
stays with the batch that caused it, and a busy router lets a small group gather."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from router.group_commit import Gathering, GroupCommit


class Writer:
    """Records every call. The first holds until ``release`` is set, as a busy writer would;
    with ``hold_second`` the second holds until cancelled."""

    def __init__(self, bad: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()
        self.hold_second = False
        self.bad = bad

    async def handle(self, batch: Sequence[str]) -> None:
        self.calls.append(list(batch))
        if len(self.calls) == 1:
            await self.release.wait()
        elif len(self.calls) == 2 and self.hold_second:
            await asyncio.Event().wait()  # until its consumer is stopped
        if self.bad in batch:
            raise ValueError(f"{self.bad} is malformed")


async def _started(writer: Writer, calls: int = 1) -> None:
    for _ in range(100):
        if len(writer.calls) >= calls:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"the writer got {writer.calls}, expected {calls} calls")


async def test_batches_that_wait_are_handled_in_one_call_in_their_order() -> None:
    writer = Writer()
    group = GroupCommit(writer.handle)
    first = asyncio.create_task(group.submit(["a1"]))
    await _started(writer)
    waiting = [asyncio.create_task(group.submit(b)) for b in (["b1", "b2"], ["c1"], ["d1"])]
    await asyncio.sleep(0)
    assert not any(t.done() for t in waiting)  # the writer is still busy with the first
    writer.release.set()
    await asyncio.gather(first, *waiting)
    assert writer.calls == [["a1"], ["b1", "b2", "c1", "d1"]]


async def test_a_lone_batch_is_handled_alone_and_at_once() -> None:
    writer = Writer()
    writer.release.set()
    group = GroupCommit(writer.handle)
    await group.submit(["a1"])
    await group.submit(["b1"])
    assert writer.calls == [["a1"], ["b1"]]


async def test_a_failing_group_is_split_so_only_the_bad_batch_fails() -> None:
    writer = Writer(bad="c1")
    group = GroupCommit(writer.handle)
    first = asyncio.create_task(group.submit(["a1"]))
    await _started(writer)
    good = asyncio.create_task(group.submit(["b1"]))
    bad = asyncio.create_task(group.submit(["c1"]))
    later = asyncio.create_task(group.submit(["d1"]))
    await asyncio.sleep(0)
    writer.release.set()
    await asyncio.gather(first, good, later)
    with pytest.raises(ValueError, match="c1 is malformed"):
        await bad
    # Together first; then one at a time, each batch's outcome its own.
    assert writer.calls == [["a1"], ["b1", "c1", "d1"], ["b1"], ["c1"], ["d1"]]


async def test_a_failure_of_everyone_is_not_split() -> None:
    writer = Writer(bad="c1")
    group = GroupCommit(writer.handle, shared_failures=(ValueError,))
    first = asyncio.create_task(group.submit(["a1"]))
    await _started(writer)
    others = [asyncio.create_task(group.submit(b)) for b in (["b1"], ["c1"])]
    await asyncio.sleep(0)
    writer.release.set()
    await first
    for task in others:
        with pytest.raises(ValueError):
            await task
    assert writer.calls == [["a1"], ["b1", "c1"]]


async def test_a_stopped_consumer_leaves_the_others_batches_to_be_handled() -> None:
    writer = Writer()
    writer.hold_second = True  # the group call never returns until its consumer is stopped
    group = GroupCommit(writer.handle)
    first = asyncio.create_task(group.submit(["a1"]))
    await _started(writer)
    second = asyncio.create_task(group.submit(["b1"]))
    third = asyncio.create_task(group.submit(["c1"]))
    await asyncio.sleep(0)
    writer.release.set()
    await first
    # The second consumer took the lock with both waiting batches; it is stopped mid-call.
    await _started(writer, 2)
    assert writer.calls[1] == ["b1", "c1"]
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    await asyncio.wait_for(third, 5)
    assert writer.calls == [["a1"], ["b1", "c1"], ["c1"]]


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _busy(window_s: float, clock: Clock) -> Gathering:
    """A gathering that has just seen 600 entries a second."""
    gathering = Gathering(window_s=window_s, busy_per_s=300, enough=4, clock=clock)
    for _ in range(30):
        gathering.arrived(1)
        clock.now += 1 / 600
    return gathering


def test_a_busy_router_waits_and_a_quiet_one_does_not() -> None:
    clock = Clock()
    quiet = Gathering(window_s=0.004, busy_per_s=300, clock=clock)
    quiet.arrived(1)
    assert quiet.wait_s(1) == 0.0
    busy = _busy(0.004, clock)
    assert busy.wait_s(1) == 0.004
    assert busy.wait_s(4) == 0.0  # enough already
    clock.now += 0.2  # the rate decays: four horizons later it is quiet again
    assert busy.wait_s(1) == 0.0
    assert Gathering(window_s=0, clock=clock).wait_s(1) == 0.0


async def test_a_busy_router_lets_batches_of_other_streams_join_a_lone_one() -> None:
    writer = Writer()
    writer.release.set()
    group = GroupCommit(writer.handle, gathering=_busy(0.05, Clock()))
    first = asyncio.create_task(group.submit(["a1"]))
    await asyncio.sleep(0.01)
    assert writer.calls == []  # still gathering
    await asyncio.gather(first, group.submit(["b1"]))
    assert writer.calls == [["a1", "b1"]]


async def test_a_gathering_group_starts_once_it_has_enough() -> None:
    writer = Writer()
    writer.release.set()
    group = GroupCommit(writer.handle, gathering=_busy(30.0, Clock()))
    first = asyncio.create_task(group.submit(["a1"]))
    await asyncio.sleep(0)
    # Far sooner than the 30 s window: the fourth entry starts the group.
    await asyncio.wait_for(asyncio.gather(first, group.submit(["b1", "c1", "d1"])), 5)
    assert writer.calls == [["a1", "b1", "c1", "d1"]]


async def test_a_quiet_router_does_not_gather() -> None:
    writer = Writer()
    writer.release.set()
    group = GroupCommit(writer.handle, gathering=Gathering(window_s=30.0, clock=Clock()))
    await asyncio.wait_for(group.submit(["a1"]), 5)
    assert writer.calls == [["a1"]]
