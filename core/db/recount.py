"""Counts the stored statistics figures of a line's past dialogs again after its time zone or
working hours changed, so that every figure of the line is in its current clock.

Reports are read in each line's current time zone: the date filter, the days of the daily
chart and the heatmap's weekday and hour. A past dialog's local day, weekday and hour, and its
first response in working seconds, are therefore counted again in the line's current zone and
working hours (holidays included), and the daily rollup moves with them in the same
transaction (``core.db.figures``, ``core.db.rollup``). Whether the dialog *began* in working
hours is not counted again: it is what the router decided when the dialog came in (the
out-of-hours auto-reply the client got, the outcome "no operator online"), a fact of that day.

The admin's change only notes the line in ``stats_figure_recounts`` (in its own transaction);
``FigureRecounter`` does the work in the background, one batch of dialogs per transaction, in
dialog id order. The row keeps the last dialog id done, so a process that stops mid-way is
followed by one that goes on from there; a newer change starts the line over. Until a line's
recount is done its older dialogs may still show the figures of the old clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select

from core.db.engine import SessionMaker
from core.db.figures import refresh_figures
from core.db.rollup_schema import FigureRecount
from core.db.schema import Dialog

log = logging.getLogger(__name__)

BATCH = 500
"""Dialogs per transaction: short enough not to hold the router's writes back for long."""
RECHECK_S = 5.0
"""How often an idle recounter looks for lines noted by any process."""


async def do_recount_batch(sessions: SessionMaker, size: int = BATCH) -> bool:
    """Count the figures of the next ``size`` dialogs of one noted line again, and note how
    far it came (or that the line is done); False when no line is noted."""
    async with sessions() as session, session.begin():
        # Another process working the same line skips it rather than waiting.
        due = await session.scalar(
            select(FigureRecount)
            .order_by(FigureRecount.requested_at, FigureRecount.line_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if due is None:
            return False
        dialogs = list(
            await session.scalars(
                select(Dialog)
                .where(Dialog.line_id == due.line_id, Dialog.id > due.after_dialog_id)
                .order_by(Dialog.id)
                .limit(size)
                .with_for_update()
            )
        )
        if not dialogs:
            log.info("statistics figures of line %d counted again", due.line_id)
            await session.delete(due)
            return True
        await session.run_sync(lambda sync: refresh_figures(sync, dialogs))
        due.after_dialog_id = dialogs[-1].id
    return True


class FigureRecounter:
    """The background worker of the recounts: batches while lines are noted, else a look
    every ``recheck_s``."""

    def __init__(
        self, sessions: SessionMaker, batch: int = BATCH, recheck_s: float = RECHECK_S
    ) -> None:
        self.sessions, self.batch, self.recheck_s = sessions, batch, recheck_s

    async def run(self, stopping: asyncio.Event) -> None:
        """Recount until ``stopping`` is set."""
        while not stopping.is_set():
            if await do_recount_batch(self.sessions, self.batch):
                await asyncio.sleep(0)  # the batches give way to the requests between them
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.recheck_s)
