"""Cancelling a task until it has ended.

One cancel can be lost. In Python 3.11, ``asyncio.wait_for`` returns the result of an awaitable
that finished in the same turn as the cancel, and the task goes on as if never cancelled;
libraries wait that way (aioimaplib's IDLE does). A loop that waits like that would then run
on and hold its owner's shutdown forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

RECANCEL_S = 0.5


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task``, again every ``RECANCEL_S`` until it has ended. What it raised is
    dropped: it was being stopped."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_S)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
