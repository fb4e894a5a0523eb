"""What the router reads: the routing view of a line and of a dialog for the pure decisions,
and the offers and participants of many dialogs at once (``router.inbound_reads`` reads what
a run of inbound messages needs). Nothing here writes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, TypeVar

from sqlalchemy import Integer, Select, bindparam, literal, select, union_all

from core.db import loaded
from core.db.crm_schema import CrmLead, CrmProfile
from core.db.loaded import adopt
from core.db.on_cursor import Call, core_rows, core_rows_together
from core.db.routing_schema import (
    LineGroup,
    OperatorGroupMember,
    member_lines,
)
from core.db.schema import Dialog, LineOperator, Operator
from core.roles import READ_ONLY_ROLES, SUPERVISOR_ROLES
from router.batch import Batch
from router.dialog_people import offers_of_dialogs, participants_of_dialogs
from router.distribution import OperatorState
from router.locks import operators_lock
from router.queue_groups import QueueEntry, QueueMember, expand_queue
from router.setup_cache import line_settings as line_settings
from router.snapshots import (
    DialogSnapshot,
    LinePolicy,
    line_limit,
    line_policy,
    member_state,
)
from router.statements import (
    dialogs_held_by_operators,
    exclusive_offers_pending_to_operators,
)

log = logging.getLogger(__name__)

ACTIVE = ("waiting", "open")

T = TypeVar("T")

CHUNK = 400
"""Keys per ``IN (…)``: under every database's limit of bound parameters."""


async def load_policy(work: Batch, line_id: int) -> LinePolicy:
    """The routing policy of a line, from its row and its queue: read once per change of the
    line setup (``router.setup_cache``)."""
    setup = await work.setup()
    if line_id not in setup.policies:
        line = await work.line(line_id)
        settings = line.settings
        queue = [member.operator_id for member, _op in await line_queue(work, line_id)]
        try:
            schedule = settings.build_schedule(line.timezone)
        except ValueError:
            log.exception("line %d has an invalid schedule; treating it as always open", line.id)
            schedule = None
        setup.policies[line_id] = line_policy(line.id, line.distribution, settings, queue, schedule)
    return setup.policies[line_id]


async def line_queue(work: Batch, line_id: int) -> list[tuple[QueueMember, Operator]]:
    """The line's queue with its groups expanded into their current members, in order, each
    with their operator row: one statement, as the queue cost before groups existed."""
    # A Core read whose operators are adopted as loaded entities: through the ORM, building
    # the result and its entities cost about three times the statement.
    rows = await core_rows(work.session, _queue_statement(), {"line_id": line_id})
    sync = work.session.sync_session
    entries: dict[tuple[int, int], QueueEntry] = {}
    members: dict[int, list[int]] = {}
    people: dict[int, Operator] = {}
    for position, operator_id, group_id, limit, *operator in rows:
        people[operator_id] = adopt(sync, QUEUED_OPERATOR, operator)
        if group_id is None:
            entries[(0, operator_id)] = QueueEntry(position, operator_id, None, limit)
        else:
            # An empty group has no row here, which expands to nobody either way.
            entries[(1, group_id)] = QueueEntry(position, None, group_id, limit)
            members.setdefault(group_id, []).append(operator_id)
    return [(m, people[m.operator_id]) for m in expand_queue(entries.values(), members)]


QUEUED_OPERATOR = loaded.shape(Operator, "o_")
"""The operator columns of a row of ``line_queue``, after the queue entry's four."""


@cache
def _queue_statement() -> Select[Any]:
    """``line_queue``'s statement, for the line bound as ``line_id``. Built once: building the
    union and its subquery, and walking them for the cache key, cost more than running it."""
    line_id = bindparam("line_id", type_=Integer)
    direct = select(
        LineOperator.position,
        LineOperator.operator_id,
        literal(None, Integer).label("group_id"),
        LineOperator.max_open_dialogs,
    ).where(LineOperator.line_id == line_id)
    grouped = (
        select(
            LineGroup.position,
            OperatorGroupMember.operator_id,
            LineGroup.group_id,
            LineGroup.max_open_dialogs,
        )
        .join(OperatorGroupMember, OperatorGroupMember.group_id == LineGroup.group_id)
        .where(LineGroup.line_id == line_id)
    )
    rows = union_all(direct, grouped).subquery()
    # An analyst never gets dialogs, even if a queue or group still names them.
    return (
        select(rows, *QUEUED_OPERATOR.columns)
        .join(Operator, Operator.id == rows.c.operator_id)
        .where(Operator.role.not_in(READ_ONLY_ROLES))
    )


async def operator_states(work: Batch, line_id: int) -> list[OperatorState]:
    """The line's operators with presence and load: open dialogs held plus pending exclusive
    offers, counted now from the live rows (never from history)."""
    session = work.session
    default_max = (await work.line(line_id)).settings.max_per_operator
    members = await line_queue(work, line_id)
    ids = [op.id for _member, op in members]
    # Held until the commit: the load read after it and the assignment written from it are
    # one step for every router process (router/locks.py). The server runs them in the order
    # sent, so they go together.
    lock = operators_lock(work, ids)
    locking = [] if lock is None else [lock]
    load = {"ids": ids}
    *locked, held, offered = await core_rows_together(
        session,
        [
            *locking,
            (dialogs_held_by_operators(), {**load, "statuses": ACTIVE}),
            (exclusive_offers_pending_to_operators(), load),
        ],
    )
    for rows in locked:
        loaded.again_rows(session, Operator, rows)
    on_line: dict[int, int] = {}
    total: dict[int, int] = {}
    for operator_id, dialog_line, count in [*held, *offered]:
        if operator_id is None:
            continue
        total[operator_id] = total.get(operator_id, 0) + count
        if dialog_line == line_id:
            on_line[operator_id] = on_line.get(operator_id, 0) + count
    return [
        member_state(
            op.id,
            op.status,
            (on_line.get(op.id, 0), total.get(op.id, 0)),
            (line_limit(member.max_open_dialogs, default_max), op.max_open_dialogs),
            op.last_assigned_at,
        )
        for member, op in members
    ]


async def snapshot(
    work: Batch, dialog: Dialog, offers: Sequence[OfferFacts] | None = None
) -> DialogSnapshot:
    """The routing view of a dialog; ``offers`` are its offers in id order when the caller
    already read them set-wise (router/reads.py)."""
    session = work.session
    if offers is None and dialog.offer_round == 0:
        offers = ()  # never offered: an offer's round is 1 and up (``router.decide``)
    elif offers is None:
        offers = (await offers_of(work, [dialog.id])).get(dialog.id, [])
    pending = [o for o in offers if o.state == "pending"]
    previous_operator = None
    if dialog.previous_dialog_id is not None:
        previous = await loaded.get(session, Dialog, dialog.previous_dialog_id)
        if previous is not None and previous.line_id == dialog.line_id:
            previous_operator = previous.operator_id
    responsible = None
    if (await work.line(dialog.line_id)).settings.returning == "crm_responsible":
        responsible = await crm_responsible(work, dialog.client_id)
    return DialogSnapshot(
        dialog_id=dialog.id,
        line_id=dialog.line_id,
        status=dialog.status,  # type: ignore[arg-type]
        operator_id=dialog.operator_id,
        opened_at=dialog.opened_at,
        answered=dialog.first_response_at is not None,
        offered_to=tuple(o.operator_id for o in pending),
        offer_exclusive=any(o.exclusive for o in pending),
        offer_round=dialog.offer_round,
        last_offered=dialog.last_offered_id,
        skipped_by=frozenset(o.operator_id for o in offers if o.state == "skipped"),
        previous_operator=previous_operator,
        crm_responsible=responsible,
        began_in_hours=dialog.began_in_hours,
        wait_reason=dialog.wait_reason,
    )


async def crm_responsible(work: Batch, client_id: int) -> int | None:
    """The client's responsible operator in the built-in CRM: the contact's, else that of the
    client's latest lead. Read from the tables directly (the router never imports the sink);
    a client merged into another answers for the main one."""
    session = work.session
    profile = await session.get(CrmProfile, client_id)
    if profile is not None and profile.merged_into_id is not None:
        client_id = profile.merged_into_id
        profile = await session.get(CrmProfile, client_id)
    if profile is not None and profile.responsible_id is not None:
        return profile.responsible_id
    return await session.scalar(
        select(CrmLead.responsible_id)
        .where(CrmLead.client_id == client_id, CrmLead.responsible_id.is_not(None))
        .order_by(CrmLead.id.desc())
        .limit(1)
    )


async def may_work_on(work: Batch, dialog: Dialog, operator: Acting) -> bool:
    """Whether ``operator`` may write in the dialog: its holder, a colleague in it, a
    supervisor, or (while it waits) a member of its line."""
    if operator.role in SUPERVISOR_ROLES or dialog.operator_id == operator.id:
        return True
    if operator.id in await work.participants(dialog.id):
        return True
    if dialog.operator_id is None:
        # A member directly or through a group: the same queue the router offers from.
        return dialog.line_id in set(await work.session.scalars(member_lines(operator.id)))
    return False


class Acting(Protocol):
    """What deciding an operator's action needs of them: an ``Operator``, or those columns of
    one read as a row."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OfferFacts:
    """What a snapshot reads of an offer: rows, not entities, as nothing that reads them
    writes offers."""

    operator_id: int
    state: str
    exclusive: bool


async def offers_of(work: Batch, dialog_ids: Sequence[int]) -> dict[int, list[OfferFacts]]:
    """The offers of each dialog that has any, oldest first."""
    calls = offers_reads(dialog_ids)
    return offers_from(await core_rows_together(work.session, calls))


def offers_reads(dialog_ids: Sequence[int]) -> list[Call]:
    """The reads of ``offers_of``, to run with others (``core_rows_together``)."""
    return [(offers_of_dialogs(), {"ids": chunk}) for chunk in chunks(dialog_ids)]


def offers_from(results: Iterable[Sequence[Any]]) -> dict[int, list[OfferFacts]]:
    """``offers_of`` from the rows of its reads."""
    offers: dict[int, list[OfferFacts]] = defaultdict(list)
    for rows in results:
        for row in rows:
            offers[row.dialog_id].append(OfferFacts(row.operator_id, row.state, row.exclusive))
    return offers


async def participants_of(work: Batch, dialog_ids: set[int]) -> dict[int, tuple[int, ...]]:
    """The participants of each dialog, in the order ``Batch.participants`` gives them."""
    calls = participants_reads(dialog_ids)
    return participants_from(dialog_ids, await core_rows_together(work.session, calls))


def participants_reads(dialog_ids: set[int]) -> list[Call]:
    """The reads of ``participants_of``, to run with others (``core_rows_together``)."""
    return [(participants_of_dialogs(), {"ids": chunk}) for chunk in chunks(sorted(dialog_ids))]


def participants_from(
    dialog_ids: set[int], results: Iterable[Sequence[Any]]
) -> dict[int, tuple[int, ...]]:
    """``participants_of`` from the rows of its reads."""
    joined: dict[int, list[int]] = {i: [] for i in dialog_ids}
    for rows in results:
        for dialog_id, operator_id in rows:
            joined[dialog_id].append(operator_id)
    return {k: tuple(v) for k, v in joined.items()}


def chunks(items: Iterable[T], size: int = CHUNK) -> list[list[T]]:
    values = list(items)
    return [values[i : i + size] for i in range(0, len(values), size)]
