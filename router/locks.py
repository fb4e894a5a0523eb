"""Row locks that make the router's capacity decisions atomic across router processes.

Several router processes write at once: each holds the leases of some inbound shards, and the
command and timer streams may be held by others. A dialog given to an operator is decided from
their load (open dialogs plus pending exclusive offers, ``router.reads.operator_states``) and
written in the same transaction; two processes that read the same load at once would both see
room and both assign, so an operator of capacity 2 would end up with 3.

Why row locks in the writer's transaction, and not an atomic Redis script per operator: the load
is counted from the database rows themselves (never from a counter kept beside them), and the
assignment is a database write. A lock on the operators' rows taken before the count and held
until the commit covers exactly the read and the write, and it is released by the commit or the
rollback itself: a router that dies mid-batch leaves no counter to repair and nothing to expire.
A Redis counter would be a second copy of the load that a crash between the Redis script and the
commit (or a rolled-back batch) would leave wrong.

On PostgreSQL the operators' rows are locked with ``SELECT … FOR NO KEY UPDATE``, always in
operator id order, so two batches locking overlapping queues never wait on each other in a
cycle; the counts are read after the lock, and under READ COMMITTED every statement sees what
the previous holder committed. ``NO KEY``: routers exclude each other all the same, while the
foreign-key checks of other writers (``FOR KEY SHARE``: an operator's login storing its
session, the CRM sink a profile naming a responsible operator) go on instead of waiting for
the router's commit. Dialogs are locked the same way. A batch can still meet a deadlock when
it locks one queue, writes a dialog and then locks another queue (or a dialog another batch
holds); PostgreSQL then aborts one of them, and ``Router.handle`` runs that batch again from
the start (``is_write_conflict``). SQLite has a single writer, so nothing is locked there.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from core.db import loaded
from core.db.on_cursor import Call
from core.db.schema import Dialog, Operator
from router.batch import Batch

__all__ = ["is_write_conflict", "lock_dialogs", "operators_lock"]

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
"""serialization_failure and deadlock_detected: the transaction may simply be run again."""


def _locks_rows(work: Batch) -> bool:
    # Only the writer's transaction locks: a read-only caller must not hold rows up.
    return work.writer and work.session.get_bind().dialect.name == "postgresql"


def operators_lock(work: Batch, operator_ids: Iterable[int]) -> Call | None:
    """The read that locks the operators' rows until the transaction ends, in id order, and
    reads them again (``loaded.again_rows``), to run before the reads it guards, with them
    where the driver can; None where the batch locks nothing.

    Reading again refreshes presence and the last assignment time of rows loaded before the
    lock (the session flushes its own changes first, so none of them is lost).
    """
    ids = sorted(set(operator_ids))
    if not ids or not _locks_rows(work):
        return None
    return loaded.read_again_call(Operator, ids, "wait")


async def lock_dialogs(work: Batch, dialogs: Iterable[Dialog]) -> None:
    """Lock and re-read dialogs about to be routed, after their line's operators were locked.

    A dialog read before the lock may since have been taken, assigned or closed by another
    router process; deciding on the old state would assign a closed dialog or one that already
    has an operator.
    """
    ids = sorted({d.id for d in dialogs})
    if not ids or not _locks_rows(work):
        return
    await work.session.flush()
    await work.session.execute(
        select(Dialog)
        .where(Dialog.id.in_(ids))
        .order_by(Dialog.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE
        .execution_options(populate_existing=True)
    )


def is_write_conflict(exc: BaseException) -> bool:
    """True for a deadlock or serialization failure: the batch can be run again as it was."""
    return isinstance(exc, DBAPIError) and (
        getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
        or getattr(exc.orig, "pgcode", None) in RETRYABLE_SQLSTATES
    )
