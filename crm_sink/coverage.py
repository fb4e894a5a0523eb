"""Key clients and their responsible operator: who keeps in touch with whom. The console's
coverage report (``operator_console.kpi.coverage_api``) reads what this writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.crm_schema import CrmProfile
from crm_sink.store import profile_of


async def do_set_coverage(
    session: AsyncSession,
    client_id: int,
    key_client: bool,
    responsible_id: int | None,
    now: datetime,
) -> CrmProfile:
    """Mark a client key (or not) and name the operator responsible for them (None: nobody)."""
    profile = await profile_of(session, client_id, now)
    profile.key_client = key_client
    profile.responsible_id = responsible_id
    profile.updated_at = now
    await session.flush()
    return profile
