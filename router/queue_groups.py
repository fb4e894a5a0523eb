"""A line's queue as the router sees it: direct operator entries and group entries merged into
one ordered list of operators.

Pure: the shell reads the rows (``router.reads.line_queue``) and this decides the order.
A group entry stands for its members at the group's position, read at routing time, so an
operator added to a group is in every queue holding that group at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["QueueEntry", "QueueMember", "expand_queue"]


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One row of a line's queue: exactly one of ``operator_id`` and ``group_id``."""

    position: int
    operator_id: int | None = None
    group_id: int | None = None
    max_open_dialogs: int | None = None

    def __post_init__(self) -> None:
        if (self.operator_id is None) == (self.group_id is None):
            raise ValueError("a queue entry names exactly one of an operator and a group")


@dataclass(frozen=True, slots=True)
class QueueMember:
    """An operator in the expanded queue, with the limit of the entry that put them there."""

    operator_id: int
    max_open_dialogs: int | None


def expand_queue(
    entries: Iterable[QueueEntry], members: Mapping[int, Sequence[int]]
) -> list[QueueMember]:
    """The operators of a queue in order: entries by position, a group's members (by id) in
    its place; an operator reached twice counts once, at their first place.

    At one position a direct entry comes before a group, and ids break remaining ties, so the
    order never depends on the order rows came back from the database.
    """
    ordered = sorted(
        entries,
        key=lambda e: (
            e.position,
            e.group_id is not None,
            e.operator_id if e.operator_id is not None else e.group_id,
        ),
    )
    seen: set[int] = set()
    queue: list[QueueMember] = []
    for entry in ordered:
        if entry.operator_id is not None:
            ids: Sequence[int] = (entry.operator_id,)
        else:
            assert entry.group_id is not None
            ids = sorted(members.get(entry.group_id, ()))
        for operator_id in ids:
            if operator_id not in seen:
                seen.add(operator_id)
                queue.append(QueueMember(operator_id, entry.max_open_dialogs))
    return queue
