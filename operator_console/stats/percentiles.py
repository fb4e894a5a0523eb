"""First response percentiles, by nearest rank, the same on SQLite and PostgreSQL.

The p-th percentile of n values is the value at rank ceil(p/100 * n) in ascending order: a
figure some dialog really had, never an interpolation between two. PostgreSQL computes it with
``percentile_disc``, which is exactly this rule; SQLite (no ordered-set aggregates) numbers the
values of each group with ``row_number()`` and ``count()`` windows and keeps the row whose
number is ceil(p * n / 100), computed in integers as (p * n + 99) / 100. ``nearest_rank`` is
the same rule in Python, for figures computed outside SQL (business time).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from operator_console.stats.dialogs import AnySelect

PERCENTS = (50, 90)
"""The percentiles every report shows: p50 and p90."""


def nearest_rank(sorted_values: Sequence[int], percent: int) -> int | None:
    """The ``percent``-th percentile of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    return sorted_values[(percent * len(sorted_values) + 99) // 100 - 1]


async def percentiles(
    session: AsyncSession, values: AnySelect, percents: Sequence[int] = PERCENTS
) -> dict[Hashable, list[int | None]]:
    """The percentiles of ``values`` (a select of ``key, value`` rows, nulls left out by the
    caller) per key, in the order of ``percents``."""
    source = values.subquery()
    key, value = source.c[0], source.c[1]
    if session.get_bind().dialect.name == "postgresql":
        figures: list[ColumnElement[Any]] = [
            func.percentile_disc(p / 100).within_group(value.asc()) for p in percents
        ]
        stmt = select(key, *figures).group_by(key)
    else:
        rank = func.row_number().over(partition_by=key, order_by=value).label("rank")
        size = func.count().over(partition_by=key).label("size")
        ranked = select(key.label("key"), value.label("value"), rank, size).subquery()
        figures = [
            func.max(case((ranked.c.rank == (ranked.c.size * p + 99) // 100, ranked.c.value)))
            for p in percents
        ]
        stmt = select(ranked.c.key, *figures).group_by(ranked.c.key)
    return {
        row[0]: [None if v is None else int(v) for v in row[1:]]
        for row in await session.execute(stmt)
    }
