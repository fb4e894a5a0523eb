"""Whose KPI figures a console user reads, and whose plans they may set.

Reading follows the statistics scope: admins and analysts read everyone; a manager reads the
operators of the lines they are on (directly or through a group) and the members of their
groups; anyone else reads only themselves. Writing: admins set any plan; a manager sets the
plans of the groups they belong to and of those groups' other members; nobody else writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.routing_schema import OperatorGroupMember, line_members, member_lines
from core.db.schema import Operator

READ_ALL_ROLES = frozenset({"admin", "analyst"})


async def readable_operators(session: AsyncSession, user: Operator) -> frozenset[int] | None:
    """The ids of the operators whose figures ``user`` reads; None for everyone."""
    if user.role in READ_ALL_ROLES:
        return None
    if user.role != "manager":
        return frozenset({user.id})
    lines = list(await session.scalars(member_lines(user.id)))
    on_lines = {int(op) for _line, op in (await session.execute(line_members(lines))).all()}
    groups = await _groups_of(session, user.id)
    members = set(
        await session.scalars(
            select(OperatorGroupMember.operator_id).where(OperatorGroupMember.group_id.in_(groups))
        )
    )
    return frozenset(on_lines | members | {user.id})


@dataclass(frozen=True)
class PlanRights:
    """The targets a user may set plans for; ``None`` means any."""

    operator_ids: frozenset[int] | None
    group_ids: frozenset[int] | None

    def allows(self, operator_id: int | None, group_id: int | None) -> bool:
        """Whether a plan for this operator or group is theirs to set."""
        if operator_id is not None:
            return self.operator_ids is None or operator_id in self.operator_ids
        return self.group_ids is None or group_id in self.group_ids


async def plan_rights(session: AsyncSession, user: Operator) -> PlanRights:
    """Whose plans ``user`` may set (nobody's for operators and analysts)."""
    if user.role == "admin":
        return PlanRights(None, None)
    if user.role != "manager":
        return PlanRights(frozenset(), frozenset())
    groups = await _groups_of(session, user.id)
    members = set(
        await session.scalars(
            select(OperatorGroupMember.operator_id).where(OperatorGroupMember.group_id.in_(groups))
        )
    )
    return PlanRights(frozenset(members - {user.id}), frozenset(groups))


async def _groups_of(session: AsyncSession, operator_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(OperatorGroupMember.group_id).where(
                OperatorGroupMember.operator_id == operator_id
            )
        )
    )
