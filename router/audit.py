"""The routing audit: one row per routing step of a dialog, for the console to show why."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import insert

from core.db.on_cursor import core_rows
from core.db.rollup import at_commit
from core.db.routing_schema import RoutingAudit
from router.batch import Batch
from router.intents import Audit


def do_audit(work: Batch, intent: Audit) -> None:
    """Note a routing step, to be written with the batch's others by ``write_audits``."""
    candidates = [
        {"operator_id": c.operator_id, "passed_over": c.passed_over} for c in intent.candidates
    ]
    work.audits.append(
        {
            "dialog_id": intent.dialog_id,
            "line_id": intent.line_id,
            "at": work.now,
            "event": intent.event,
            "mode": intent.mode,
            "operator_id": intent.operator_id,
            "reason": intent.reason,
            "candidates": candidates,
            "detail": intent.detail,
        }
    )


async def write_audits(work: Batch) -> None:
    """Write the batch's routing steps, in the order they were taken, in one ``executemany``
    at its commit, with the statistics' rollup (``core.db.rollup.at_commit``).

    Core, not the unit of work, which cost several times the statement; and once per batch,
    not per step: nothing in the router reads the audit back, and a burst of new dialogs took
    one INSERT each (and a flush of whatever the session held before it)."""
    if work.audits:
        audits, work.audits = work.audits, []
        call = (_insert(), audits)
        if not at_commit(work.session.sync_session, call):
            await core_rows(work.session, *call)


@cache
def _insert() -> Any:
    table: Any = RoutingAudit.__table__
    return insert(table)
