"""Whose dialogs a console user may read statistics of.

Admins and analysts read every line. A manager reads the lines whose queue holds them,
directly or through an operator group, and the figures of the operators of those lines and of
the members of their own operator groups. An operator reads their own dialogs only.

Every statistics endpoint applies the scope in SQL through ``StatsScope.dialogs``: a dialog is
in scope when its line is in ``line_ids`` and, for a scope limited to ``own_dialogs`` (an
operator), its responsible operator is in ``operator_ids``. A manager's scope covers whole
lines, so a dialog that nobody took (a missed one) still counts in their figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.routing_schema import OperatorGroupMember, line_members, member_lines
from core.db.schema import Dialog, Operator
from core.roles import STATS_READER_ROLES


@dataclass(frozen=True, slots=True)
class StatsScope:
    """The lines (None: every line) and operators (None: everyone) a user reads figures of.

    ``own_dialogs`` is true when only the dialogs of ``operator_ids`` count (an operator's own
    figures); otherwise ``operator_ids`` lists whose per-operator figures may be shown.
    """

    line_ids: frozenset[int] | None
    operator_ids: frozenset[int] | None
    own_dialogs: bool = False

    def dialogs(self) -> ColumnElement[bool]:
        """The scope as a condition on ``Dialog``."""
        clauses: list[ColumnElement[bool]] = []
        if self.line_ids is not None:
            clauses.append(Dialog.line_id.in_(sorted(self.line_ids)))
        if self.own_dialogs and self.operator_ids is not None:
            clauses.append(Dialog.operator_id.in_(sorted(self.operator_ids)))
        return and_(true(), *clauses)

    def may_read_line(self, line_id: int) -> bool:
        """Whether figures of this line are the user's to read."""
        return self.line_ids is None or line_id in self.line_ids

    def may_read_operator(self, operator_id: int) -> bool:
        """Whether figures of this operator are the user's to read."""
        return self.operator_ids is None or operator_id in self.operator_ids


EVERYTHING = StatsScope(line_ids=None, operator_ids=None)


async def stats_scope(session: AsyncSession, operator: Operator) -> StatsScope:
    """The statistics scope of a console user, read in at most three queries."""
    if operator.role in STATS_READER_ROLES:
        return EVERYTHING
    lines = frozenset(await session.scalars(member_lines(operator.id)))
    if operator.role != "manager":
        return StatsScope(line_ids=lines, operator_ids=frozenset({operator.id}), own_dialogs=True)
    on_lines = {op_id for _line, op_id in await session.execute(line_members(sorted(lines)))}
    my_groups = select(OperatorGroupMember.group_id).where(
        OperatorGroupMember.operator_id == operator.id
    )
    grouped = await session.scalars(
        select(OperatorGroupMember.operator_id).where(OperatorGroupMember.group_id.in_(my_groups))
    )
    return StatsScope(line_ids=lines, operator_ids=frozenset({operator.id, *on_lines, *grouped}))
