"""Whether a web chat line is answering now: the widget's "We are online" header.

The same truth the router routes by: the line is within its working hours and at least one of
its operators is online. Operators' presence is what the router holds, which follows their
console sockets (``core.presence``), so a visitor is no longer told "online" by a line whose
operators closed their browsers.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.lines import LineSettings
from config.schedule import is_open
from core.db.routing_schema import LineGroup, OperatorGroupMember
from core.db.schema import Line, LineOperator, Operator

log = logging.getLogger(__name__)


def within_hours(line: Line, at: datetime) -> bool:
    """Whether ``at`` is within the line's working hours; a line without hours (or with hours
    that do not parse, as the router treats them) is always open."""
    try:
        schedule = LineSettings.model_validate(line.settings or {}).build_schedule(line.timezone)
    except (ValidationError, ValueError):
        log.warning("line %d has invalid settings; its web chat shows it as open", line.id)
        return True
    return schedule is None or is_open(schedule, at)


async def line_answering(session: AsyncSession, line_id: int, at: datetime) -> bool:
    """Whether the line is open at ``at`` and one of its operators is online."""
    line = await session.get(Line, line_id)
    if line is None or not within_hours(line, at):
        return False
    # The line's operators are its direct queue entries and the members of its groups.
    via_groups = (
        select(OperatorGroupMember.operator_id)
        .join(LineGroup, LineGroup.group_id == OperatorGroupMember.group_id)
        .where(LineGroup.line_id == line_id)
    )
    direct = select(LineOperator.operator_id).where(LineOperator.line_id == line_id)
    found = await session.scalar(
        select(Operator.id)
        .where(
            Operator.status == "online",
            or_(Operator.id.in_(direct), Operator.id.in_(via_groups)),
        )
        .limit(1)
    )
    return found is not None
