"""First response percentiles, by nearest rank, the same on SQLite and PostgreSQL.

The p-th percentile of n values is the value at rank ceil(p/100 * n) in ascending order: a
figure some dialog really had, never an interpolation between two. The database counts how
many dialogs had each value (``GROUP BY key, value``: far fewer rows than dialogs, as first
responses are whole seconds) and the ranks are walked here, so groups can also be merged
(``merge_counts``) without asking the database again.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from operator_console.stats.dialogs import AnySelect

PERCENTS = (50, 90)
"""The percentiles every report shows: p50 and p90."""


def nearest_rank(sorted_values: Sequence[int], percent: int) -> int | None:
    """The ``percent``-th percentile of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    return sorted_values[(percent * len(sorted_values) + 99) // 100 - 1]


ValueCounts = dict[int, int]
"""How many values there are of each value."""


def ranked(counts: ValueCounts, percents: Sequence[int] = PERCENTS) -> list[int | None]:
    """The ``percents`` percentiles of the values that ``counts`` counts."""
    total = sum(counts.values())
    if not total:
        return [None for _ in percents]
    out: list[int | None] = []
    for percent in percents:
        rank, seen = (percent * total + 99) // 100, 0
        for value in sorted(counts):
            seen += counts[value]
            if seen >= rank:
                out.append(value)
                break
    return out


def merge_counts(into: ValueCounts, counts: ValueCounts) -> None:
    """Add ``counts`` to ``into``."""
    for value, n in counts.items():
        into[value] = into.get(value, 0) + n


async def value_counts(session: AsyncSession, values: AnySelect) -> dict[Any, ValueCounts]:
    """How often each value occurs per key, for ``values``: a select of ``key..., value``
    rows (nulls left out by the caller); the key is a tuple when there are several."""
    source = values.subquery()
    columns = list(source.c)
    keys, value = columns[:-1], columns[-1]
    stmt = select(*keys, value, func.count()).group_by(*keys, value)
    out: dict[Any, ValueCounts] = {}
    for row in await session.execute(stmt):
        key = row[0] if len(keys) == 1 else tuple(row[: len(keys)])
        out.setdefault(key, {})[int(row[-2])] = int(row[-1])
    return out


async def percentiles(
    session: AsyncSession, values: AnySelect, percents: Sequence[int] = PERCENTS
) -> dict[Hashable, list[int | None]]:
    """The percentiles of ``values`` (a select of ``key, value`` rows, nulls left out by the
    caller) per key, in the order of ``percents``."""
    found = await value_counts(session, values)
    return {key: ranked(counts, percents) for key, counts in found.items()}
