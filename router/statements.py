"""Statements the router's runs send in every batch, built once.

Building a statement and walking it for its cache key cost more than running it on the
writer's synchronous driver (about 60 µs against 70 µs for a read of a few rows): the lists a
run reads by go in as expanding parameters instead of into a new statement each time.

Reads that need no entity are Core statements over the tables, run by ``core_rows``: on the
writer's thread they cost about 120 µs against 200 µs for the same read through the ORM, whose
compile and row-loading steps are the difference. A probe for rows that are nearly always
absent (a message stored already) reads ids that way, and loads entities only for a hit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.counters import Counting
from core.db.loaded import shape
from core.db.on_cursor import Call, core_rows_together
from core.db.routing_schema import DialogOffer
from core.db.schema import ClientIdentity, Dialog, Message, Operator
from router.decide import WAITING_AT_ONCE
from router.snapshots import OPEN_STATUSES

REPLY_PAIRS_PAGE = 128
"""The most (dialog, client message id) pairs ``reply_ids_by_pairs`` asks for at once."""


@cache
def reply_ids_by_pairs(slots: int) -> Any:
    """(id, dialog id, client message id) of the messages whose (dialog, client message id)
    is one of ``slots`` pairs, bound as ``dialog_0``, ``client_0``, ``dialog_1`` …

    One search of the (dialog, client id) unique index per pair. Two lists (dialog ids IN …
    AND client ids IN …) were searched once per combination: 45 replies of 45 dialogs made
    2 025 searches, ten times the time of the pairs. A row-value IN is no better: SQLite
    answers ``(a, b) IN (VALUES …)`` by scanning every stored message. ``slots`` is a power of
    two up to ``REPLY_PAIRS_PAGE`` (``pair_slots``), so that few statements are ever built."""
    c = _messages().c
    pairs = [
        and_(c.dialog_id == bindparam(f"dialog_{i}"), c.client_msg_id == bindparam(f"client_{i}"))
        for i in range(slots)
    ]
    return select(c.id, c.dialog_id, c.client_msg_id).where(or_(*pairs))


def pair_params(pairs: Sequence[tuple[int, str]]) -> dict[str, Any]:
    """The parameters of ``reply_ids_by_pairs(pair_slots(len(pairs)))`` for ``pairs`` (at
    least one, at most ``REPLY_PAIRS_PAGE``): the last pair fills the slots left over."""
    params: dict[str, Any] = {}
    for i in range(pair_slots(len(pairs))):
        dialog_id, client_msg_id = pairs[min(i, len(pairs) - 1)]
        params[f"dialog_{i}"] = dialog_id
        params[f"client_{i}"] = client_msg_id
    return params


def pair_slots(count: int) -> int:
    """The power of two at or above ``count`` (1 … ``REPLY_PAIRS_PAGE``)."""
    return min(1 << max(count - 1, 0).bit_length(), REPLY_PAIRS_PAGE)


def _messages() -> Any:
    return Message.__table__


@cache
def _insert_messages() -> Any:
    table = _messages()
    c = table.c
    return insert(table).returning(c.id, c.dialog_id, c.channel_id, c.external_id, c.client_msg_id)


@dataclass(slots=True)
class MessageRecord:
    """A ``Message``'s columns as a plain record: one about to be stored by
    ``insert_messages``, which sets its ``id``, or one read as a row to be changed by Core
    statements (``router.delivery``). It costs 0.5 µs to build where an entity kept out of the
    session costs 30, and the router's runs of messages make one per message."""

    dialog_id: int
    channel_id: int
    author: str
    author_name: str
    text: str
    attachments: list[dict[str, Any]]
    created_at: datetime
    operator_id: int | None = None
    external_id: str | None = None
    client_msg_id: str | None = None
    hidden: bool = False
    id: int = 0
    delivery_status: str | None = None
    delivery_error: str | None = None
    edits: list[dict[str, Any]] | None = None


async def insert_messages(
    session: AsyncSession,
    messages: Sequence[MessageRecord],
    columns: Sequence[str],
    key: Callable[[Any], Hashable],
    before: Counting | None = None,
    reads: Sequence[Call] = (),
) -> list[Sequence[Any]]:
    """Store new messages, each with the ``columns`` its maker set, in one INSERT … RETURNING,
    and give each its id. They stay out of the session, as plain objects.

    A Core statement, not the ORM's: the ORM's bulk INSERT … RETURNING of entities cost three
    times as much for one row and twice for twenty (docs/BENCHMARKS.md), and building the
    returned entities was most of it, while the caller holds the messages already. Returned
    rows need not come back in the parameters' order, so ``key``, a unique key of a message
    (as an object or a returned row), matches them.

    ``before``: the dialogs' counters, moved on by a statement sent ahead of the INSERT;
    ``reads``: statements run after it, whose rows are returned. All in one round trip where
    the driver can."""
    rows = [{column: getattr(m, column) for column in columns} for m in messages]
    ahead = [] if before is None or before.call is None else [before.call]
    found = await core_rows_together(session, [*ahead, (_insert_messages(), rows), *reads])
    if before is not None:
        await session.run_sync(before.done)
    ids = {key(row): row.id for row in found[len(ahead)]}
    for message in messages:
        message.id = ids[key(message)]
    return found[len(ahead) + 1 :]


@cache
def message_ids_by_external_ids() -> Any:
    """The ids of the messages of the channel bound as ``channel_id`` stored under one of
    ``ids``."""
    c = _messages().c
    return select(c.id).where(
        c.channel_id == bindparam("channel_id"),
        c.external_id.in_(bindparam("ids", expanding=True)),
    )


@cache
def acting_operators() -> Any:
    """(id, name, role) of the operators bound as ``ids``: what ``router.reads.Acting`` needs."""
    c = Operator.__table__.c
    return select(c.id, c.name, c.role).where(c.id.in_(bindparam("ids", expanding=True)))


@cache
def external_ids_of_dialogs() -> Any:
    """(id, external id) of the client identities of the dialogs bound as ``ids``."""
    i, d = ClientIdentity.__table__.c, Dialog.__table__.c
    return (
        select(i.id, i.external_id)
        .join_from(Dialog.__table__, ClientIdentity.__table__, d.identity_id == i.id)
        .where(d.id.in_(bindparam("ids", expanding=True)))
        .distinct()
    )


IDENTITY = shape(ClientIdentity, "i_")
DIALOG = shape(Dialog, "d_")
"""The two entities of a row of ``identities_with_dialogs``, in its order."""


@cache
def identities_with_dialogs() -> Any:
    """(identity, dialog) columns (``IDENTITY``, then ``DIALOG``) for the client identities
    of the channel bound as ``channel_id`` named one of ``ids``: a row for each of an
    identity's waiting and open dialogs and its latest, or one with no dialog (its columns
    null)."""
    channel_id: Any = bindparam("channel_id")
    ids: Any = bindparam("ids", expanding=True)
    identities, dialogs = ClientIdentity.__table__.c, Dialog.__table__.c
    # Not correlated with the outer row: SQLite would run a correlated one for every past
    # dialog of the identity, while this one runs once.
    named, other = ClientIdentity.__table__.alias(), Dialog.__table__.alias()
    latest = (
        select(func.max(other.c.id))
        .join(named, other.c.identity_id == named.c.id)
        .where(named.c.channel_id == channel_id, named.c.external_id.in_(ids))
        .group_by(other.c.identity_id)
    )
    return (
        select(*IDENTITY.columns, *DIALOG.columns)
        .select_from(ClientIdentity.__table__)
        .outerjoin(
            Dialog.__table__,
            and_(
                dialogs.identity_id == identities.id,
                or_(dialogs.status.in_(OPEN_STATUSES), dialogs.id.in_(latest)),
            ),
        )
        .where(identities.channel_id == channel_id, identities.external_id.in_(ids))
    )


WAITING = shape(Dialog)
"""The columns of a row of ``waiting_dialogs``."""


@cache
def waiting_dialogs() -> Any:
    """``WAITING`` columns of the line bound as ``line_id``'s waiting dialogs, the first
    ``WAITING_AT_ONCE`` in the order they are given out (built once: routing the queue runs
    after every close and every operator's return)."""
    c = Dialog.__table__.c
    return (
        select(*WAITING.columns)
        .where(c.line_id == bindparam("line_id"), c.status == "waiting")
        .order_by(c.opened_at, c.id)
        .limit(WAITING_AT_ONCE)
    )


@cache
def dialogs_held_by_operators() -> Any:
    """(operator id, line id, how many) of the dialogs in one of the statuses bound as
    ``statuses`` that the operators bound as ``ids`` hold, by line."""
    c = Dialog.__table__.c
    return (
        select(c.operator_id, c.line_id, func.count().label("dialogs"))
        .where(
            c.operator_id.in_(bindparam("ids", expanding=True)),
            c.status.in_(bindparam("statuses", expanding=True)),
        )
        .group_by(c.operator_id, c.line_id)
    )


@cache
def exclusive_offers_pending_to_operators() -> Any:
    """(operator id, line id, how many) of the exclusive offers still pending to the operators
    bound as ``ids``, by the line of the dialog offered."""
    offers, dialogs = DialogOffer.__table__, Dialog.__table__
    return (
        select(offers.c.operator_id, dialogs.c.line_id, func.count().label("dialogs"))
        .select_from(offers.join(dialogs, dialogs.c.id == offers.c.dialog_id))
        .where(
            offers.c.operator_id.in_(bindparam("ids", expanding=True)),
            offers.c.state == "pending",
            offers.c.exclusive.is_(True),
        )
        .group_by(offers.c.operator_id, dialogs.c.line_id)
    )
