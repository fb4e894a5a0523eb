"""The console's SQLite pool keeps the connections a burst opened: a hundred widgets opening at
once must not open and close connections (a thread and the pragmas each) burst after burst."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, text

from core.db import make_engine, make_sessionmaker

BURST = 15
"""As many sessions at once as the pool allows."""


async def test_a_second_burst_of_sessions_opens_no_connection(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    opened = 0

    @event.listens_for(engine.sync_engine, "connect")
    def _count(_dbapi: Any, _record: Any) -> None:
        nonlocal opened
        opened += 1

    async def burst() -> None:
        holding = 0
        all_in, done = asyncio.Event(), asyncio.Event()

        async def one() -> None:
            nonlocal holding
            async with sessions() as session:
                await session.execute(text("SELECT 1"))
                holding += 1
                if holding == BURST:
                    all_in.set()
                await done.wait()

        tasks = [asyncio.create_task(one()) for _ in range(BURST)]
        await asyncio.wait_for(all_in.wait(), 30)  # every session holds a connection at once
        done.set()
        await asyncio.gather(*tasks)

    try:
        await burst()
        assert opened == BURST
        await burst()
        assert opened == BURST
    finally:
        await engine.dispose()
