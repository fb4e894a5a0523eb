"""The data of the charts: dialogs per local day by channel kind with first response
percentiles per day, and incoming dialogs by local weekday and hour. Days, weekdays and hours
are those of each dialog's line, stored on the dialog (``core.dialog_figures``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.schema import Channel, Dialog
from operator_console.stats import rollup
from operator_console.stats.dialogs import Selection
from operator_console.stats.percentiles import percentiles, ranked


async def daily(session: AsyncSession, selection: Selection) -> dict[str, Any]:
    """``{"days", "by_channel", "frt_p50_s", "frt_p90_s"}``: every date from ``from`` to
    ``to`` (else from the first to the last date with a dialog), counts per channel kind;
    read from the daily rollup when it can answer, else from the dialogs."""
    channels = await session.execute(select(Channel.id, Channel.kind))
    kinds: dict[int, str] = {channel_id: kind for channel_id, kind in channels}
    per_kind: dict[str, dict[str, int]] = {}
    counts, frt_days = await _daily_figures(session, selection)
    for shown, channel_id, count in counts:
        found = per_kind.setdefault(kinds[channel_id], {})
        found[str(shown)] = found.get(str(shown), 0) + int(count)
    days = _days(selection, {d for found in per_kind.values() for d in found})
    return {
        "days": days,
        "by_channel": {
            kind: [found.get(d, 0) for d in days] for kind, found in sorted(per_kind.items())
        },
        "frt_p50_s": [frt_days.get(d, [None, None])[0] for d in days],
        "frt_p90_s": [frt_days.get(d, [None, None])[1] for d in days],
    }


async def _daily_figures(
    session: AsyncSession, selection: Selection
) -> tuple[list[tuple[str, int, int]], dict[str, list[int | None]]]:
    """(day, channel id, dialogs) rows and the first response percentiles per day."""
    where = rollup.rollup_where(selection)
    if where is not None:
        responses = rollup.rollup_where(selection, rollup.RESPONSES)
        assert responses is not None
        per_day = await rollup.daily_frt_counts(session, responses)
        counts = await rollup.daily_counts(session, where)
        return counts, {day: ranked(found) for day, found in per_day.items()}
    day = Dialog.opened_day
    # Grouped by channel id, not kind: the index on (channel_id, opened_at) serves it, and
    # the few channels are folded into their kinds by the caller.
    stmt = select(day, Dialog.channel_id, func.count()).select_from(Dialog)
    stmt = (await selection.apply(session, stmt)).group_by(day, Dialog.channel_id)
    rows = [(str(d), int(c), int(n)) for d, c, n in (await session.execute(stmt)).all()]
    answered = select(day, Dialog.first_response_s).select_from(Dialog)
    answered = await selection.apply(session, answered)
    frt = await percentiles(session, answered.where(Dialog.first_response_at.is_not(None)))
    return rows, {str(k): v for k, v in frt.items()}


def _days(selection: Selection, seen: set[str]) -> list[str]:
    first, last = selection.filters.days()
    if first is None or last is None:
        if not seen:
            return []
        first = first or date.fromisoformat(min(seen))
        last = last or date.fromisoformat(max(seen))
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


async def heatmap(session: AsyncSession, selection: Selection) -> dict[str, Any]:
    """``{"cells": [[count per hour 0..23] per weekday, Monday first]}``."""
    where = rollup.rollup_where(selection)
    if where is not None:
        return {"cells": await rollup.heatmap_cells(session, where)}
    weekday, hour = Dialog.opened_weekday, Dialog.opened_hour
    stmt = select(weekday, hour, func.count()).select_from(Dialog)
    stmt = (await selection.apply(session, stmt)).group_by(weekday, hour)
    cells = [[0] * 24 for _ in range(7)]
    for day, at, count in (await session.execute(stmt)).all():
        if day is not None and at is not None:  # every dialog has them once migrated
            cells[day][at] = int(count)
    return {"cells": cells}
