"""The routing audit: one row per routing step of a dialog, for the console to show why."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import insert

from core.db.on_cursor import core_rows
from core.db.routing_schema import RoutingAudit
from router.batch import Batch
from router.intents import Audit


async def do_audit(work: Batch, intent: Audit) -> None:
    """Record a routing step in the batch's transaction.

    A Core INSERT: nothing in the batch reads the row back, and through the unit of work it
    cost several times the statement. Whatever the session holds is flushed first, so the
    row keeps its place among the batch's rows.
    """
    candidates = [
        {"operator_id": c.operator_id, "passed_over": c.passed_over} for c in intent.candidates
    ]
    values = {
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
    await core_rows(work.session, _insert(), values)


@cache
def _insert() -> Any:
    table: Any = RoutingAudit.__table__
    return insert(table)
