"""PostgreSQL's instant cells for the CSV export are what ``report.iso_utc`` writes: six
fraction digits when the instant has any (trailing zeros kept), none when it has none, in
UTC whatever the session's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, insert, select, text

from core.db import make_engine
from operator_console.stats import csv_cells
from operator_console.stats.report import iso_utc

INSTANTS = [
    datetime(2026, 3, 29, 1, 30, 0, 0, UTC),
    datetime(2026, 3, 29, 1, 30, 5, 1, UTC),
    datetime(2026, 3, 29, 1, 30, 5, 100000, UTC),
    datetime(2026, 3, 29, 1, 30, 5, 999999, UTC),
    datetime(2025, 12, 31, 23, 59, 59, 0, timezone(timedelta(hours=-5))),
    datetime(1999, 1, 1, 0, 0, 0, 10, UTC),
]


async def test_postgres_instant_cells_are_iso_utc(postgres_url: str) -> None:
    table = Table(
        "instants",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", DateTime(timezone=True)),
    )
    engine = make_engine(postgres_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            await conn.execute(
                insert(table), [{"id": i, "at": at} for i, at in enumerate(INSTANTS)]
            )
            await conn.execute(insert(table), [{"id": len(INSTANTS), "at": None}])
            # The cells must not follow the session's zone, as a plain to_char would.
            await conn.execute(text("SET LOCAL TimeZone = 'Asia/Kolkata'"))
            cells = (
                await conn.scalars(
                    select(csv_cells.iso_instant("postgresql", table.c.at))
                    .select_from(table)
                    .order_by(table.c.id)
                )
            ).all()
    finally:
        await engine.dispose()
    assert cells == [iso_utc(at) for at in INSTANTS] + [None]
    assert cells[0] == "2026-03-29T01:30:00Z" and cells[2] == "2026-03-29T01:30:05.100000Z"
