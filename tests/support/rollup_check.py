"""The statistics' rollup as kept, against the rollup made afresh from the dialogs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db.rollup import DAYS, MONTHS, RESPONSES, backfill, backfill_months

Snapshot = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]
"""The daily rows, the daily first response counts and the monthly ones, each in key order."""


def rollup_rows(conn: Connection) -> Snapshot:
    days = conn.execute(select(DAYS).order_by(*DAYS.primary_key.columns)).all()
    answered = conn.execute(select(RESPONSES).order_by(*RESPONSES.primary_key.columns)).all()
    months = conn.execute(select(MONTHS).order_by(*MONTHS.primary_key.columns)).all()
    return [tuple(r) for r in days], [tuple(r) for r in answered], [tuple(r) for r in months]


def rebuilt_rollup(conn: Connection) -> Snapshot:
    """The rollup as one GROUP BY over the dialogs makes it (rolled back afterwards)."""
    nested = conn.begin_nested()
    conn.execute(delete(DAYS))
    conn.execute(delete(RESPONSES))
    conn.execute(delete(MONTHS))
    backfill(conn)
    backfill_months(conn)
    rows = rollup_rows(conn)
    nested.rollback()
    return rows


async def checked_rollup(engine: AsyncEngine) -> Snapshot:
    """The rollup as kept, asserted equal to the rollup made afresh."""
    async with engine.connect() as conn:
        kept = await conn.run_sync(rollup_rows)
        assert kept == await conn.run_sync(rebuilt_rollup)
        await conn.rollback()
    return kept
