"""What a what-if reads from the database: a period's dialogs, how each operator behaved in
it, and the line's setup as it is.

Read-only. Presence is not recorded, so the current setup has each operator online whenever
the line is open (all the time on a line without working hours).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from config.lines import LineSettings
from core.db.routing_schema import DialogOffer, LineGroup, OperatorGroupMember
from core.db.schema import Dialog, Line, LineOperator, Operator
from router.snapshots import line_policy
from simulator.model import Arrival, Behaviour, Behaviours
from simulator.setups import Presence, QueueItem, SetupForm

SAMPLES_KEPT = 2000
"""Samples kept per operator and kind: plenty for a distribution, bounded in memory."""


async def recorded_arrivals(
    session: AsyncSession, line_id: int, start: datetime, end: datetime
) -> list[Arrival]:
    """The line's dialogs that arrived in ``[start, end)``, oldest first.

    A dialog nobody took that the client closed carries how long they waited as patience.
    """
    previous = aliased(Dialog)
    rows = await session.execute(
        select(
            Dialog.id,
            Dialog.opened_at,
            Dialog.channel_id,
            Dialog.client_id,
            Dialog.assigned_at,
            Dialog.closed_at,
            Dialog.closed_by,
            previous.operator_id,
            previous.line_id,
        )
        .outerjoin(previous, previous.id == Dialog.previous_dialog_id)
        .where(Dialog.line_id == line_id, Dialog.opened_at >= start, Dialog.opened_at < end)
        .order_by(Dialog.opened_at, Dialog.id)
    )
    arrivals = []
    for did, opened, channel, client, assigned, closed, by, prev_op, prev_line in rows:
        patience = None
        if assigned is None and closed is not None and by == "client":
            patience = (closed - opened).total_seconds()
        returning = prev_op if prev_line == line_id else None
        arrivals.append(Arrival(did, opened, channel, client, patience, returning))
    return arrivals


async def recorded_behaviours(
    session: AsyncSession, line_id: int, start: datetime, end: datetime
) -> Behaviours:
    """Each operator's behaviour on the line's dialogs of ``[start, end)``."""
    take: dict[int, list[float]] = defaultdict(list)
    answer: dict[int, list[float]] = defaultdict(list)
    duration: dict[int, list[float]] = defaultdict(list)
    skips: dict[int, list[bool]] = defaultdict(list)
    dialogs = await session.execute(
        select(Dialog.operator_id, Dialog.assigned_at, Dialog.first_response_at, Dialog.closed_at)
        .where(Dialog.line_id == line_id, Dialog.opened_at >= start, Dialog.opened_at < end)
        .where(Dialog.operator_id.is_not(None), Dialog.assigned_at.is_not(None))
    )
    for operator_id, assigned, first, closed in dialogs:
        if operator_id is None or assigned is None:
            continue
        if first is not None and first >= assigned:
            answer[operator_id].append((first - assigned).total_seconds())
        if closed is not None and closed >= assigned:
            duration[operator_id].append((closed - assigned).total_seconds())
    offers = await session.execute(
        select(
            DialogOffer.operator_id, DialogOffer.state, DialogOffer.offered_at, DialogOffer.ended_at
        )
        .join(Dialog, Dialog.id == DialogOffer.dialog_id)
        .where(Dialog.line_id == line_id, Dialog.opened_at >= start, Dialog.opened_at < end)
        .where(DialogOffer.state.in_(("taken", "skipped")), DialogOffer.ended_at.is_not(None))
    )
    for operator_id, state, offered, ended in offers:
        if ended is None:
            continue
        take[operator_id].append(max(0.0, (ended - offered).total_seconds()))
        skips[operator_id].append(state == "skipped")
    return fit_behaviours(take, answer, duration, skips)


def fit_behaviours(
    take: Mapping[int, list[float]],
    answer: Mapping[int, list[float]],
    duration: Mapping[int, list[float]],
    skips: Mapping[int, list[bool]],
) -> Behaviours:
    """Behaviour from recorded samples per operator: seconds to take an offer, to the first
    answer and to the close (both from getting the dialog), and whether each offer was
    skipped. Anyone without samples of a kind gets the line's pooled ones."""
    default = Behaviour()

    def one(t: list[float], a: list[float], d: list[float], s: list[bool]) -> Behaviour:
        return Behaviour(
            take_s=tuple(t[-SAMPLES_KEPT:]) or default.take_s,
            first_response_s=tuple(a[-SAMPLES_KEPT:]) or default.first_response_s,
            duration_s=tuple(d[-SAMPLES_KEPT:]) or default.duration_s,
            skip_probability=sum(s) / len(s) if s else 0.0,
        )

    operators = set(take) | set(answer) | set(duration)
    pooled = one(
        [x for v in take.values() for x in v],
        [x for v in answer.values() for x in v],
        [x for v in duration.values() for x in v],
        [x for v in skips.values() for x in v],
    )
    by_operator = {
        op: one(take.get(op, []), answer.get(op, []), duration.get(op, []), skips.get(op, []))
        for op in operators
    }
    return Behaviours(by_operator, pooled)


async def group_members(session: AsyncSession) -> dict[int, list[int]]:
    """Every operator group's members."""
    members: dict[int, list[int]] = defaultdict(list)
    rows = await session.execute(
        select(OperatorGroupMember.group_id, OperatorGroupMember.operator_id)
    )
    for group_id, operator_id in rows:
        members[group_id].append(operator_id)
    return dict(members)


async def current_form(session: AsyncSession, line: Line) -> SetupForm:
    """The line's setup as it is, in the form the page edits."""
    direct = await session.scalars(select(LineOperator).where(LineOperator.line_id == line.id))
    groups = await session.scalars(select(LineGroup).where(LineGroup.line_id == line.id))
    entries: list[tuple[int, int, QueueItem]] = [
        (q.position, 0, QueueItem(operator_id=q.operator_id, max_open_dialogs=q.max_open_dialogs))
        for q in direct
    ]
    entries += [
        (g.position, 1, QueueItem(group_id=g.group_id, max_open_dialogs=g.max_open_dialogs))
        for g in groups
    ]
    entries.sort(key=lambda e: (e[0], e[1], e[2].operator_id or e[2].group_id or 0))
    settings: dict[str, Any] = dict(line.settings or {})
    shifts = _line_hours(settings)
    limits = {
        op: cap for op, cap in await session.execute(select(Operator.id, Operator.max_open_dialogs))
    }
    ids = {e[2].operator_id for e in entries if e[2].operator_id is not None}
    for members in (await group_members(session)).values():
        ids.update(members)
    return SetupForm(
        distribution=line_policy(line.id, line.distribution, LineSettings(), (), None).mode,
        timezone=line.timezone,
        settings=settings,
        queue=[e[2] for e in entries],
        operators={
            op: Presence(shifts=shifts, max_open_dialogs=limits.get(op)) for op in sorted(ids)
        },
    )


def _line_hours(settings: dict[str, Any]) -> dict[str, Any] | None:
    schedule = settings.get("schedule")
    if not isinstance(schedule, dict):
        return None
    return {key: value for key, value in schedule.items() if key in ("week", "holidays")}


async def recorded_waits(
    session: AsyncSession, line_id: int, start: datetime, end: datetime
) -> list[float]:
    """Seconds from arrival to the first operator of the line's dialogs of ``[start, end)``
    that got one: what the replay of the current setup must reproduce."""
    rows = await session.execute(
        select(Dialog.opened_at, Dialog.assigned_at).where(
            Dialog.line_id == line_id,
            Dialog.opened_at >= start,
            Dialog.opened_at < end,
            Dialog.assigned_at.is_not(None),
        )
    )
    return [
        max(0.0, (assigned - opened).total_seconds())
        for opened, assigned in rows
        if assigned is not None
    ]
