"""The expansion of group entries in a line's queue (router/queue_groups.py)."""

from __future__ import annotations

import pytest

from config.lines import GROUP_PREFIX, LineConfig
from router.queue_groups import QueueEntry, QueueMember, expand_queue


def ids(queue: list[QueueMember]) -> list[int]:
    return [m.operator_id for m in queue]


def test_group_expands_into_members_at_its_position() -> None:
    entries = [
        QueueEntry(position=0, operator_id=1),
        QueueEntry(position=1, group_id=10),
        QueueEntry(position=2, operator_id=2),
    ]
    assert ids(expand_queue(entries, {10: [7, 5]})) == [1, 5, 7, 2]


def test_operator_listed_directly_and_through_group_counts_once_at_first_place() -> None:
    entries = [QueueEntry(position=0, group_id=10), QueueEntry(position=1, operator_id=5)]
    queue = expand_queue(entries, {10: [5, 6]})
    assert ids(queue) == [5, 6]
    later = [
        QueueEntry(position=0, operator_id=5, max_open_dialogs=3),
        QueueEntry(position=1, group_id=10, max_open_dialogs=1),
    ]
    queue = expand_queue(later, {10: [5, 6]})
    assert queue == [QueueMember(5, 3), QueueMember(6, 1)]


def test_operator_in_two_groups_counts_once() -> None:
    entries = [QueueEntry(position=0, group_id=1), QueueEntry(position=1, group_id=2)]
    assert ids(expand_queue(entries, {1: [3, 4], 2: [4, 5]})) == [3, 4, 5]


def test_order_does_not_depend_on_row_order() -> None:
    entries = [
        QueueEntry(position=1, group_id=10),
        QueueEntry(position=1, operator_id=9),
        QueueEntry(position=0, operator_id=4),
    ]
    assert ids(expand_queue(entries, {10: [9, 2]})) == [4, 9, 2]
    assert ids(expand_queue(list(reversed(entries)), {10: [2, 9]})) == [4, 9, 2]


def test_empty_or_unknown_group_adds_nobody() -> None:
    entries = [QueueEntry(position=0, group_id=10), QueueEntry(position=1, group_id=11)]
    assert expand_queue(entries, {10: []}) == []


def test_members_added_later_are_in_the_next_expansion() -> None:
    entries = [QueueEntry(position=0, group_id=10)]
    members = {10: [1]}
    assert ids(expand_queue(entries, members)) == [1]
    members[10].append(2)
    assert ids(expand_queue(entries, members)) == [1, 2]


def test_entry_names_exactly_one_target() -> None:
    with pytest.raises(ValueError):
        QueueEntry(position=0)
    with pytest.raises(ValueError):
        QueueEntry(position=0, operator_id=1, group_id=2)


def test_lines_file_queue_may_name_groups() -> None:
    line = LineConfig(key="sales", name="Sales", queue=["alice", "group:support"])
    assert line.queue == ["alice", f"{GROUP_PREFIX}support"]
    with pytest.raises(ValueError, match="needs a group name"):
        LineConfig(key="sales", name="Sales", queue=["group:"])
