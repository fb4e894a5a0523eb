"""A benchmark visitor gives each message one deadline for its reply: a message nobody answers
is counted as lost once it passes, and the visitor goes on with its next message."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bench.webchat_load import Shared, Visitor


async def test_an_unanswered_message_is_lost_at_its_deadline_and_the_next_one_goes(
    hub: str,
) -> None:
    shared = Shared()
    start = asyncio.Event()
    start.set()
    async with aiohttp.ClientSession() as http:
        visitor = Visitor(0, hub, "demo", http)
        await visitor.connect()
        try:
            # No operator is online: the messages are stored and queued, never answered.
            began = time.perf_counter()
            await asyncio.wait_for(visitor.converse(2, shared, 1.0, start), 20)
            took = time.perf_counter() - began
        finally:
            await visitor.close()

    assert dict(shared.errors) == {"lost": 2}, shared.error_samples
    assert shared.error_samples == [
        "lost: no reply to v0-m0 within 1 s",
        "lost: no reply to v0-m1 within 1 s",
    ]
    # Each waited out its own second, and the frames that did come were noted meanwhile.
    assert took >= 2.0
    for cid in ("v0-m0", "v0-m1"):
        track = shared.tracks[cid]
        assert track.accepted is not None and track.echoed is not None
        assert track.reply_seen is None
