"""The webhook delivery log as the admin console shows it, and the live frame that keeps an
open log current.

Every change of a delivery (logged as pending, then each try) is published on the ``events``
stream to the admins, the only ones who see the log (``admin_api``). An admin watching a
webhook whose receiver is down sees each failed try and its answer as it happens, without
reloading.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.integrations_schema import WebhookAttempt
from core.db.schema import Operator
from core.envelope import WebhookDeliveryEvent


def attempt_json(row: WebhookAttempt) -> dict[str, Any]:
    """One line of the delivery log."""
    return {
        "id": row.id,
        "event_id": row.event_id,
        "event": row.event,
        "status": row.status,
        "attempts": row.attempts,
        "response_status": row.response_status,
        "response_body": row.response_body,
        "created_at": row.created_at.isoformat(),
        "last_attempt_at": row.last_attempt_at.isoformat() if row.last_attempt_at else None,
    }


async def admin_ids(session: AsyncSession) -> tuple[int, ...]:
    """Who sees the delivery log."""
    return tuple(await session.scalars(select(Operator.id).where(Operator.role == "admin")))


def delivery_event(row: WebhookAttempt, admins: tuple[int, ...]) -> WebhookDeliveryEvent:
    """The frame of ``row`` as it stands, for ``admins``. Its key names the row's state, so a
    redelivered entry is shown once and each new try again."""
    return WebhookDeliveryEvent(
        key=f"webhook-delivery:{row.id}:{row.attempts}:{row.status}",
        recipients=admins,
        webhook_id=row.webhook_id,
        delivery=attempt_json(row),
    )
