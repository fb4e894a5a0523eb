"""Read-side helpers of open-line routing for the console: offers, colleagues, audit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.routing_schema import DialogOffer, DialogParticipant, RoutingAudit


async def routing_extras(
    session: AsyncSession, dialog_ids: Sequence[int]
) -> tuple[dict[int, tuple[int, ...]], dict[int, tuple[int, ...]]]:
    """Pending offers and participants of the dialogs, by dialog id (two queries)."""
    offers: dict[int, list[int]] = defaultdict(list)
    people: dict[int, list[int]] = defaultdict(list)
    if dialog_ids:
        for dialog_id, operator_id in await session.execute(
            select(DialogOffer.dialog_id, DialogOffer.operator_id)
            .where(DialogOffer.dialog_id.in_(dialog_ids), DialogOffer.state == "pending")
            .order_by(DialogOffer.id)
        ):
            offers[dialog_id].append(operator_id)
        for dialog_id, operator_id in await session.execute(
            select(DialogParticipant.dialog_id, DialogParticipant.operator_id)
            .where(DialogParticipant.dialog_id.in_(dialog_ids))
            .order_by(DialogParticipant.joined_at, DialogParticipant.operator_id)
        ):
            people[dialog_id].append(operator_id)
    return (
        {k: tuple(v) for k, v in offers.items()},
        {k: tuple(v) for k, v in people.items()},
    )


async def audit_of(session: AsyncSession, dialog_id: int) -> list[dict[str, Any]]:
    """The routing audit of a dialog, oldest first, as the console shows it."""
    rows = await session.scalars(
        select(RoutingAudit).where(RoutingAudit.dialog_id == dialog_id).order_by(RoutingAudit.id)
    )
    return [
        {
            "id": r.id,
            "at": r.at.isoformat(),
            "event": r.event,
            "mode": r.mode,
            "operator_id": r.operator_id,
            "reason": r.reason,
            "candidates": r.candidates,
            "detail": r.detail,
            "line_id": r.line_id,
        }
        for r in rows
    ]
