"""Whether a web chat line is answering now: the widget's "We are online" header.

The same truth the router routes by: the line is within its working hours and at least one of
its operators is online. Operators' presence is what the router holds, which follows their
console sockets (``core.presence``), so a visitor is no longer told "online" by a line whose
operators closed their browsers.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import BindParameter, Integer, Select, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.lines import LineSettings
from config.schedule import is_open
from core.db.routing_schema import LineGroup, OperatorGroupMember
from core.db.schema import Line, LineOperator, Operator

log = logging.getLogger(__name__)


def within_hours(line_id: int, settings: dict[str, Any] | None, zone: str, at: datetime) -> bool:
    """Whether ``at`` is within the working hours of the line with these ``settings`` and time
    ``zone``; a line without hours (or with hours that do not parse, as the router treats
    them) is always open."""
    try:
        schedule = LineSettings.model_validate(settings or {}).build_schedule(zone)
    except (ValidationError, ValueError):
        log.warning("line %d has invalid settings; its web chat shows it as open", line_id)
        return True
    return schedule is None or is_open(schedule, at)


async def line_answering(session: AsyncSession, line_id: int, at: datetime) -> bool:
    """Whether the line is open at ``at`` and one of its operators is online."""
    row = (await session.execute(_answering(), {"line_id": line_id})).first()
    if row is None:
        return False
    settings, zone, someone_online = row
    return bool(someone_online) and within_hours(line_id, settings, zone, at)


@cache
def _answering() -> Select[tuple[dict[str, Any] | None, str, bool]]:
    """The line's hours and whether one of its operators is online, in one statement built
    once: every widget's hello and keep-alive asks, and two statements built per call cost
    more than the rest of the answer."""
    line_id: BindParameter[int] = bindparam("line_id", type_=Integer)
    # The line's operators are its direct queue entries and the members of its groups.
    via_groups = (
        select(OperatorGroupMember.operator_id)
        .join(LineGroup, LineGroup.group_id == OperatorGroupMember.group_id)
        .where(LineGroup.line_id == line_id)
    )
    direct = select(LineOperator.operator_id).where(LineOperator.line_id == line_id)
    someone_online = exists().where(
        Operator.status == "online", or_(Operator.id.in_(direct), Operator.id.in_(via_groups))
    )
    return select(Line.settings, Line.timezone, someone_online.label("someone_online")).where(
        Line.id == line_id
    )
