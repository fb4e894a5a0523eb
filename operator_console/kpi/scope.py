"""Whose plans a console user may set. Whose figures they read is the statistics scope
(``operator_console.stats.scope``): admins and analysts read everyone; a manager the operators
of their lines and the members of their groups; anyone else only themselves.

Admins set any plan; a manager sets the plans of the groups they belong to and of those
groups' other members; nobody else sets any.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.routing_schema import OperatorGroupMember
from core.db.schema import Operator
from operator_console.stats.scope import stats_scope


async def readable_operators(session: AsyncSession, user: Operator) -> frozenset[int] | None:
    """The ids of the operators whose figures ``user`` reads; None for everyone."""
    return (await stats_scope(session, user)).operator_ids


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
    groups = set(
        await session.scalars(
            select(OperatorGroupMember.group_id).where(OperatorGroupMember.operator_id == user.id)
        )
    )
    members = set(
        await session.scalars(
            select(OperatorGroupMember.operator_id).where(OperatorGroupMember.group_id.in_(groups))
        )
    )
    return PlanRights(frozenset(members - {user.id}), frozenset(groups))
