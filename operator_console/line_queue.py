"""A line's queue as the console writes it: operators and groups in order, each place with its
own limit of open dialogs on the line.

The line editor, the what-if's "apply" and the lines of openlines.toml all replace a queue
whole; each checks its places its own way first (``operator_console.admin_lines_api``,
``operator_console.whatif_api``, ``operator_console.lines_file``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.routing_schema import LineGroup
from core.db.schema import LineOperator


class QueuePlace(Protocol):
    """One place in a line's queue: an operator or a group of operators, with the most
    dialogs it may hold open on the line (None: the line's own limit). Its position is its
    index in the queue."""

    @property
    def operator_id(self) -> int | None:
        """The operator in this place, or None when it is a group's."""

    @property
    def group_id(self) -> int | None:
        """The group in this place, or None when it is an operator's."""

    @property
    def max_open_dialogs(self) -> int | None:
        """The most dialogs this place holds open on the line."""


async def do_replace_queue(
    session: AsyncSession, line_id: int, places: Sequence[QueuePlace]
) -> None:
    """Replace the line's queue with ``places``, in order (the caller owns the transaction)."""
    await session.execute(delete(LineOperator).where(LineOperator.line_id == line_id))
    await session.execute(delete(LineGroup).where(LineGroup.line_id == line_id))
    for position, place in enumerate(places):
        common: dict[str, Any] = {
            "line_id": line_id,
            "position": position,
            "max_open_dialogs": place.max_open_dialogs,
        }
        if place.group_id is not None:
            session.add(LineGroup(group_id=place.group_id, **common))
        elif place.operator_id is not None:
            session.add(LineOperator(operator_id=place.operator_id, **common))
    await session.flush()
