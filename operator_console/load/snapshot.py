"""The live operator load: who is online with how many dialogs against their capacity, and
each line's waiting queue with its oldest and long waits.

``read_load`` reads it in a fixed number of statements whatever the number of lines,
operators and dialogs (one per kind: lines, queues, operators, held dialogs, offers, the
queues' figures, the long waits), so recomputing it once a second stays cheap. Load and
capacity mean what the router means (``router.reads.operator_states``): an operator's load is
the waiting and open dialogs they hold plus their pending one-at-a-time offers; their capacity
on a line is their queue entry's limit or the line's ``max_per_operator``, and in all their
dialogs is ``operators.max_open_dialogs``. ``narrow`` cuts a snapshot down to a user's scope.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from config.lines import LineSettings
from core.db.routing_schema import DialogOffer, LineGroup, OperatorGroupMember
from core.db.schema import Client, Dialog, Line, LineOperator, Operator
from operator_console.admin_operators_api import DISABLED
from operator_console.stats.scope import StatsScope
from router.queue_groups import QueueEntry, expand_queue
from router.reads import ACTIVE, line_settings

ANSWERING_ROLES = ("operator", "manager")
"""Accounts a scope of everyone always shows, in a queue or not."""
LONG_WAITS_SHOWN = 20
"""Long waits listed per line, oldest first; ``long_waits`` counts them all."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LineShare(_Frozen):
    """An operator's dialogs on one line against their limit there (None: no limit)."""

    line_id: int
    load: int
    capacity: int | None


class OperatorLoad(_Frozen):
    """One operator's presence and load."""

    id: int
    name: str
    role: str
    status: str
    open: int
    """Waiting and open dialogs they hold, on every line."""
    offers: int
    """Dialogs offered to them and not yet taken, skipped or passed on."""
    load: int
    """What the router counts against their capacity: ``open`` plus one-at-a-time offers."""
    capacity: int | None
    """The most dialogs the router gives them over all their lines; None: no limit."""
    lines: tuple[LineShare, ...]


class LongWait(_Frozen):
    """A client waiting in a line's queue longer than the line's threshold."""

    dialog_id: int
    client_name: str
    opened_at: datetime
    waited_s: int


class LineQueue(_Frozen):
    """One line's waiting queue."""

    id: int
    name: str
    waiting: int
    oldest_opened_at: datetime | None
    oldest_wait_s: int | None
    long_wait_s: int
    """The line's ``long_wait_seconds``."""
    long_waits: int
    longest: tuple[LongWait, ...]
    """The oldest of the long waits, at most ``LONG_WAITS_SHOWN``."""


class LoadSnapshot(_Frozen):
    """The live load at ``at``: ``GET /api/stats/load`` and the socket's ``load`` frames."""

    at: datetime
    operators: tuple[OperatorLoad, ...]
    lines: tuple[LineQueue, ...]
    next_long_wait_at: datetime | None
    """When the next waiting client becomes a long wait, if nothing else changes first."""


Key = tuple[int, int]
"""(operator id, line id)."""


async def read_load(session: AsyncSession, now: datetime, scope: StatsScope) -> LoadSnapshot:
    """The load of the lines and operators in ``scope``."""
    lines = {line.id: line for line in await session.scalars(select(Line).order_by(Line.id))}
    settings = {line_id: line_settings(line) for line_id, line in lines.items()}
    limits = await _queue_limits(session, settings)
    held = await _counts(session, _held_query())
    offers = await _counts(session, _offers_query(exclusive=False))
    exclusive = await _counts(session, _offers_query(exclusive=True))
    shown = [i for i in lines if scope.may_read_line(i)]
    operators = (await session.scalars(_operators_query(scope, limits, held, offers))).all()
    loads = [
        _operator_load(op, limits, held, offers, exclusive, set(shown))
        for op in sorted(operators, key=lambda o: (o.name.casefold(), o.id))
    ]
    queues, next_at = await _queues(session, now, {i: lines[i] for i in shown}, settings)
    return LoadSnapshot(at=now, operators=tuple(loads), lines=queues, next_long_wait_at=next_at)


def _operators_query(
    scope: StatsScope, *counted: dict[Key, int] | dict[Key, int | None]
) -> Select[Operator]:
    """The operators shown: those of the scope; for a scope of everyone, every account that
    answers dialogs (operators and managers, not disabled) and anyone else in a queue or
    holding dialogs (an admin who took one over)."""
    if scope.operator_ids is not None:
        return select(Operator).where(Operator.id.in_(sorted(scope.operator_ids)))
    busy = sorted({op for keys in counted for op, _line in keys})
    answering = Operator.role.in_(ANSWERING_ROLES) & ~Operator.password_hash.startswith(DISABLED)
    return select(Operator).where(or_(Operator.id.in_(busy), answering))


def narrow(snapshot: LoadSnapshot, scope: StatsScope) -> LoadSnapshot:
    """The part of a snapshot ``scope`` may read (the socket computes one snapshot of every
    line and sends each user their part)."""
    return snapshot.model_copy(
        update={
            "operators": tuple(
                op.model_copy(
                    update={"lines": tuple(s for s in op.lines if scope.may_read_line(s.line_id))}
                )
                for op in snapshot.operators
                if scope.may_read_operator(op.id)
            ),
            "lines": tuple(q for q in snapshot.lines if scope.may_read_line(q.id)),
        }
    )


async def _queue_limits(
    session: AsyncSession, settings: dict[int, LineSettings]
) -> dict[Key, int | None]:
    """Every queue membership with the operator's limit on that line, the router's way:
    groups expanded, the entry's limit else the line's ``max_per_operator``."""
    direct = select(
        LineOperator.line_id,
        LineOperator.position,
        LineOperator.operator_id,
        literal(None, Integer).label("group_id"),
        LineOperator.max_open_dialogs,
    )
    grouped = select(
        LineGroup.line_id,
        LineGroup.position,
        OperatorGroupMember.operator_id,
        LineGroup.group_id,
        LineGroup.max_open_dialogs,
    ).join(OperatorGroupMember, OperatorGroupMember.group_id == LineGroup.group_id)
    entries: dict[int, dict[tuple[int, int], QueueEntry]] = defaultdict(dict)
    members: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for line_id, position, operator_id, group_id, limit in await session.execute(
        union_all(direct, grouped)
    ):
        if group_id is None:
            entries[line_id][(0, operator_id)] = QueueEntry(position, operator_id, None, limit)
        else:
            entries[line_id][(1, group_id)] = QueueEntry(position, None, group_id, limit)
            members[line_id][group_id].append(operator_id)
    limits: dict[Key, int | None] = {}
    for line_id, line_entries in entries.items():
        default = settings[line_id].max_per_operator if line_id in settings else None
        for member in expand_queue(line_entries.values(), members[line_id]):
            limits[(member.operator_id, line_id)] = member.max_open_dialogs or default
    return limits


def _held_query() -> Select[int | None, int, int]:
    return (
        select(Dialog.operator_id, Dialog.line_id, func.count())
        .where(Dialog.operator_id.is_not(None), Dialog.status.in_(ACTIVE))
        # Grouped by status first, in the order of the (status, operator, line) index: SQLite
        # then counts the active dialogs from that index alone; grouped by operator and line
        # only, it walks every dialog an operator ever held to spare itself a sort.
        .group_by(Dialog.status, Dialog.operator_id, Dialog.line_id)
    )


def _offers_query(exclusive: bool) -> Select[int, int, int]:
    query = (
        select(DialogOffer.operator_id, Dialog.line_id, func.count())
        .join(Dialog, Dialog.id == DialogOffer.dialog_id)
        .where(DialogOffer.state == "pending")
        .group_by(DialogOffer.operator_id, Dialog.line_id)
    )
    return query.where(DialogOffer.exclusive.is_(True)) if exclusive else query


async def _counts(
    session: AsyncSession, query: Select[int | None, int, int] | Select[int, int, int]
) -> dict[Key, int]:
    counts: dict[Key, int] = {}
    # Held dialogs are read with an operator only; the check is for the type. An operator and
    # line may come once per status (``_held_query``), so the counts add up.
    for op, line, n in await session.execute(query):
        if op is not None:
            counts[(op, line)] = counts.get((op, line), 0) + int(n)
    return counts


def _operator_load(
    op: Operator,
    limits: dict[Key, int | None],
    held: dict[Key, int],
    offers: dict[Key, int],
    exclusive: dict[Key, int],
    shown: set[int],
) -> OperatorLoad:
    def total(counts: dict[Key, int]) -> int:
        return sum(n for (who, _line), n in counts.items() if who == op.id)

    def on(line_id: int) -> int:
        key = (op.id, line_id)
        return held.get(key, 0) + exclusive.get(key, 0)

    own = {line for who, line in (*limits, *held, *offers) if who == op.id}
    caps = [limits[(op.id, line)] for line in own if (op.id, line) in limits]
    on_lines: int | None = None
    if caps and all(c is not None for c in caps):
        on_lines = sum(c for c in caps if c is not None)
    capacity = _smaller(on_lines, op.max_open_dialogs)
    return OperatorLoad(
        id=op.id,
        name=op.name,
        role=op.role,
        status=op.status,
        open=total(held),
        offers=total(offers),
        load=total(held) + total(exclusive),
        capacity=capacity,
        lines=tuple(
            LineShare(line_id=line, load=on(line), capacity=limits.get((op.id, line)))
            for line in sorted(own & shown)
        ),
    )


def _smaller(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


async def _queues(
    session: AsyncSession,
    now: datetime,
    lines: dict[int, Line],
    settings: dict[int, LineSettings],
) -> tuple[tuple[LineQueue, ...], datetime | None]:
    """Each line's queue figures and long waits (two statements), and when the next long wait
    begins."""
    if not lines:
        return (), None
    thresholds = {i: settings[i].long_wait_seconds for i in lines}
    cutoff = case(
        *(
            (Dialog.line_id == i, literal(now - timedelta(seconds=s), Dialog.opened_at.type))
            for i, s in thresholds.items()
        ),
        else_=None,
    )
    is_long: ColumnElement[bool] = Dialog.opened_at <= cutoff
    waiting = and_(Dialog.status == "waiting", Dialog.line_id.in_(sorted(lines)))
    figures = await session.execute(
        select(
            Dialog.line_id,
            func.count(),
            func.min(Dialog.opened_at),
            func.sum(case((is_long, 1), else_=0)),
            # Typed by its first branch: the column's, so the value comes back aware.
            func.min(case((Dialog.opened_at > cutoff, Dialog.opened_at), else_=None)),
        )
        .where(waiting)
        .group_by(Dialog.line_id)
    )
    by_line = {row[0]: row[1:] for row in figures}
    longest = await _longest(session, now, and_(waiting, is_long))
    queues, crossings = [], []
    for line_id, line in lines.items():
        count, oldest, long_count, next_young = by_line.get(line_id, (0, None, 0, None))
        if next_young is not None:
            crossings.append(next_young + timedelta(seconds=thresholds[line_id]))
        queues.append(
            LineQueue(
                id=line_id,
                name=line.name,
                waiting=count,
                oldest_opened_at=oldest,
                oldest_wait_s=None if oldest is None else _seconds(now - oldest),
                long_wait_s=thresholds[line_id],
                long_waits=int(long_count or 0),
                longest=tuple(longest.get(line_id, ())),
            )
        )
    return tuple(queues), min(crossings, default=None)


async def _longest(
    session: AsyncSession, now: datetime, where: ColumnElement[bool]
) -> dict[int, list[LongWait]]:
    """The oldest long waits of each line, at most ``LONG_WAITS_SHOWN`` each."""
    place = (
        func.row_number()
        .over(partition_by=Dialog.line_id, order_by=(Dialog.opened_at, Dialog.id))
        .label("place")
    )
    ranked = (
        select(Dialog.id, Dialog.line_id, Dialog.opened_at, Client.name, place)
        .join(Client, Client.id == Dialog.client_id)
        .where(where)
        .subquery()
    )
    rows = await session.execute(
        select(ranked.c.id, ranked.c.line_id, ranked.c.opened_at, ranked.c.name)
        .where(ranked.c.place <= LONG_WAITS_SHOWN)
        .order_by(ranked.c.opened_at, ranked.c.id)
    )
    found: dict[int, list[LongWait]] = defaultdict(list)
    for dialog_id, line_id, opened_at, name in rows:
        found[line_id].append(
            LongWait(
                dialog_id=dialog_id,
                client_name=name,
                opened_at=opened_at,
                waited_s=_seconds(now - opened_at),
            )
        )
    return found


def _seconds(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()))
