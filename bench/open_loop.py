"""Open-loop load: visitor messages arrive at a fixed mean rate, whatever the hub does.

A closed loop (bench/webchat_load.py) sends the next message only after the reply to the
previous one, so a slow hub is sent less and its queueing hides in a lower rate. Here arrivals
are a Poisson process of ``rate`` messages a second over ``duration`` seconds, each from a
visitor drawn at random; visitors do not wait for replies. The latencies then say what a
visitor would see at that rate, queueing included. Operators answer as in the closed loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable

import aiohttp

from bench.load_result import LoadResult, summarise
from bench.webchat_load import Shared, Track, Visitor, talking

SEED = 7
"""Arrival times and visitors are drawn from this seed: two runs send the same sequence."""


class OpenVisitor(Visitor):
    """A visitor who sends when told and reads its socket all the while."""

    async def send(self, cid: str, shared: Shared) -> None:
        """Send one message now, without waiting for anything."""
        assert self.ws is not None
        track = Track(sent=time.perf_counter())
        shared.tracks[cid] = track
        await self.ws.send_str(
            json.dumps({"type": "message", "client_msg_id": cid, "text": f"Hello, message {cid}"})
        )

    async def listen(self, shared: Shared) -> None:
        """Note every frame until the socket closes."""
        while True:
            try:
                frame = await self._frame(3600)
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
) -> LoadResult:
    """Send Poisson arrivals at ``rate`` a second for ``duration_s`` from ``visitors`` visitors,
    then wait up to ``drain_s`` for the last replies.

    ``on_phase`` gets "start" before the first arrival and "end" after the drain.
    """

    def visitor(index: int, http: aiohttp.ClientSession) -> Visitor:
        return OpenVisitor(index, base, channel, http)

    draw = random.Random(SEED)
    async with talking(base, channel, visitors, operators, visitor, operator_base) as (
        shared,
        crowd,
    ):
        readers = [asyncio.create_task(_listen(v, shared)) for v in crowd]
        if on_phase is not None:
            await on_phase("start")
        try:
            start = time.perf_counter()
            due = start
            number = 0
            while True:
                due += draw.expovariate(rate)
                if due - start > duration_s:
                    break
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                sender = crowd[draw.randrange(len(crowd))]
                assert isinstance(sender, OpenVisitor)
                await sender.send(f"v{sender.index}-m{number}", shared)
                number += 1
            await _drain(shared, drain_s)
        finally:
            if on_phase is not None:
                await on_phase("end")
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    sent = len(shared.tracks)
    return summarise(shared, visitors, -(-sent // visitors), len(operators))


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
