"""Open-loop load: visitor messages arrive at a fixed mean rate, whatever the hub does.

A closed loop (bench/webchat_load.py) sends the next message only after the reply to the
previous one, so a slow hub is sent less and its queueing hides in a lower rate. Here arrivals
are a Poisson process of ``rate`` messages a second over ``duration`` seconds, each from a
visitor drawn at random; visitors do not wait for replies. The latencies then say what a
visitor would see at that rate, queueing included. Operators answer as in the closed loop.

Without a burst, every visitor's first message opens a dialog, so most dialogs open in the first
seconds of the run: at 200 visitors and 200 messages a second, about 130 in the first second.
With ``burst`` N, the run is shaped as a busy hub sees it instead: every other visitor opens
their dialog before the measurement (one message each, answered, not counted), the arrivals
come from those open dialogs, and in the middle of the run N new visitors send their first
message within one second, on top of the rate; they keep talking after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable

import aiohttp

from bench.load_result import LoadResult, summarise
from bench.webchat_load import Shared, Track, Visitor, talking
from core import frames

SEED = 7
"""Arrival times and visitors are drawn from this seed: two runs send the same sequence."""

BURST_WINDOW_S = 2.0
"""The burst's window: its second, and the next, in which the queue it left drains."""

OPENING_WAVE = 50
"""Visitors opening their dialogs at once before a run with a burst."""
WARM_PREFIX = "w"


class OpenVisitor(Visitor):
    """A visitor who sends when told and reads its socket all the while."""

    async def send(self, cid: str, shared: Shared) -> None:
        """Send one message now, without waiting for anything."""
        assert self.ws is not None
        track = Track(sent=time.perf_counter())
        shared.tracks[cid] = track
        await self.ws.send_str(
            frames.dumps({"type": "message", "client_msg_id": cid, "text": f"Hello, message {cid}"})
        )

    async def listen(self, shared: Shared) -> None:
        """Note every frame until the socket closes."""
        while True:
            try:
                frame = await self._frame()
            except ConnectionError:
                return
            self._note(frame, shared)


async def run_open_loop(
    base: str,
    channel: str,
    visitors: int,
    rate: float,
    duration_s: float,
    operators: list[tuple[str, str]],
    drain_s: float,
    on_phase: Callable[[str], Awaitable[None]] | None = None,
    operator_base: str | None = None,
    burst: int = 0,
    replies: str = "socket",
) -> LoadResult:
    """Send Poisson arrivals at ``rate`` a second for ``duration_s`` from ``visitors`` visitors,
    then wait up to ``drain_s`` for the last replies.

    With ``burst`` > 0 the last ``burst`` visitors are new ones who all send their first message
    within one second in the middle of the run; the others opened their dialogs beforehand.
    ``on_phase`` gets "start" before the first arrival and "end" after the drain.
    """

    def visitor(index: int, http: aiohttp.ClientSession) -> Visitor:
        return OpenVisitor(index, base, channel, http)

    draw = random.Random(SEED)
    async with talking(base, channel, visitors, operators, visitor, operator_base, replies) as (
        shared,
        crowd,
    ):
        readers = [asyncio.create_task(_listen(v, shared)) for v in crowd]
        talking_now = [v for v in crowd if isinstance(v, OpenVisitor)]
        newcomers = talking_now[len(talking_now) - burst :] if burst else []
        if burst:
            talking_now = talking_now[: len(talking_now) - burst]
            await _open_dialogs(talking_now, shared, drain_s)
        if on_phase is not None:
            await on_phase("start")
        try:
            arrivals = _arrivals(draw, rate, duration_s, len(talking_now), len(newcomers))
            start = time.perf_counter()
            for number, (at, who) in enumerate(arrivals):
                await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
                sender = (
                    talking_now[who]
                    if who < len(talking_now)
                    else newcomers[who - len(talking_now)]
                )
                await sender.send(f"v{sender.index}-m{number}", shared)
            await _drain(shared, drain_s)
        finally:
            if on_phase is not None:
                await on_phase("end")
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    if burst:
        for cid in [cid for cid in shared.tracks if cid.startswith(WARM_PREFIX)]:
            del shared.tracks[cid]
        first = {f"v{v.index}-" for v in newcomers}
        openings: list[str] | None = [
            min((c for c in shared.tracks if c.startswith(prefix)), key=_number) for prefix in first
        ]
    else:
        openings = None
    sent = len(shared.tracks)
    burst_start = start + _burst_at(duration_s)
    window = (burst_start, burst_start + BURST_WINDOW_S) if burst else None
    return summarise(shared, visitors, -(-sent // visitors), len(operators), openings, window)


def _arrivals(
    draw: random.Random, rate: float, duration_s: float, talking: int, newcomers: int
) -> list[tuple[float, int]]:
    """When each message is sent (seconds from the start) and by whom (an index into the
    talking visitors, then the newcomers). The newcomers' first messages are spread evenly over
    one second from the middle of the run; after theirs, each newcomer may be drawn too."""
    middle = _burst_at(duration_s)
    sends = [(middle + (i + 0.5) / newcomers, talking + i) for i in range(newcomers)]
    at = draw.expovariate(rate)
    while at <= duration_s:
        joined = sum(1 for first_at, _ in sends[:newcomers] if first_at < at)
        sends.append((at, draw.randrange(talking + joined)))
        at += draw.expovariate(rate)
    return sorted(sends)


def _burst_at(duration_s: float) -> float:
    """When the burst starts, in seconds from the first arrival: the middle of the run."""
    return duration_s / 2


def _number(cid: str) -> int:
    return int(cid.rpartition("-m")[2])


async def _open_dialogs(crowd: list[OpenVisitor], shared: Shared, timeout_s: float) -> None:
    """Open every visitor's dialog with one message, answered, in waves; not measured."""
    for first in range(0, len(crowd), OPENING_WAVE):
        wave = crowd[first : first + OPENING_WAVE]
        for visitor in wave:
            await visitor.send(f"{WARM_PREFIX}{visitor.index}-m0", shared)
        deadline = time.perf_counter() + timeout_s
        while any(shared.tracks[f"{WARM_PREFIX}{v.index}-m0"].reply_seen is None for v in wave):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"dialogs not answered within {timeout_s:g} s before the run")
            await asyncio.sleep(0.02)


async def _listen(visitor: Visitor, shared: Shared) -> None:
    assert isinstance(visitor, OpenVisitor)
    with contextlib.suppress(Exception):
        await visitor.listen(shared)


async def _drain(shared: Shared, drain_s: float) -> None:
    """Wait until every message sent has its reply, or ``drain_s`` passed (then: lost)."""
    deadline = time.perf_counter() + drain_s
    while time.perf_counter() < deadline:
        if all(t.reply_seen is not None for t in shared.tracks.values()):
            return
        await asyncio.sleep(0.05)
    lost = sum(1 for t in shared.tracks.values() if t.reply_seen is None)
    shared.error("lost", f"{lost} messages without a reply {drain_s:g} s after the last send")
