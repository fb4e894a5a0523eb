"""A task that loses a cancel, as one waiting in Python 3.11's ``asyncio.wait_for`` does when
its awaitable finishes in the same turn, is still stopped, and promptly."""

from __future__ import annotations

import asyncio

import pytest

from core import cancelling
from core.cancelling import cancel_and_wait


async def test_a_task_that_loses_a_cancel_is_cancelled_again_until_it_ends() -> None:
    rounds = 0

    async def watcher() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                if rounds == 1:
                    continue  # the first cancel is lost
                raise

    task = asyncio.create_task(watcher())
    await asyncio.sleep(0)
    async with asyncio.timeout(5 * cancelling.RECANCEL_S):
        await cancel_and_wait(task)
    assert task.cancelled() and rounds == 2


async def test_what_a_stopped_task_raised_is_dropped() -> None:
    async def failing() -> None:
        raise RuntimeError("it failed while being stopped")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    await cancel_and_wait(task)  # does not raise
    with pytest.raises(RuntimeError):
        task.result()
