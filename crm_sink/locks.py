"""Client locks that make a merge and the sink's writes for the same clients take turns.

A merge reads everything two clients own and then moves it to the main client. A lead, link or
transcript the sink writes onto one of them between that read and the merge's commit would be
missed by the move and left on the merged-away client. So both sides hold the clients' rows
from before their reads until their commit:

* On PostgreSQL the rows of ``clients`` are locked with ``SELECT … FOR NO KEY UPDATE``, in id
  order, so two merges locking overlapping pairs never wait on each other in a cycle. Under
  READ COMMITTED each later statement then sees what the previous holder committed. Not
  ``FOR UPDATE``: that one also stops the ``FOR KEY SHARE`` of every foreign-key check on the
  client, so the router, storing a dialog or a message of a client the sink held, waited for
  the sink's commit, and met it in a deadlock when the sink then waited for the router (a
  second later, PostgreSQL aborted one of them). Nothing deletes a client or changes its id,
  which is all the stronger lock would guard against.
* SQLite has one writer at a time, but the driver begins a transaction only at the first
  write, so reads before it see the database as it was before another writer's commit. The
  transaction is begun with ``BEGIN IMMEDIATE`` instead, which takes the write lock before
  anything is read (waiting out ``busy_timeout`` for the current writer).

After the lock the clients and their CRM profiles are read again: objects the session loaded
earlier (a visibility check, an earlier event of the batch) may predate another's commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.db import loaded
from core.db.crm_schema import CrmProfile
from core.db.on_cursor import core_rows
from core.db.schema import Client, ClientIdentity, Dialog
from crm_sink.store import NO_PROFILE

__all__ = ["OwnerBusy", "lock_clients", "lock_owner"]

LOCK_NOT_AVAILABLE = "55P03"
"""PostgreSQL's SQLSTATE for a ``NOWAIT`` lock that another transaction holds."""


class OwnerBusy(Exception):
    """The client a row moved to while this transaction waited is locked by another one.

    This transaction already holds the client the row moved from. A merge, or the undo of
    one, takes both clients in id order; waiting here for the second could close a cycle
    with it, which PostgreSQL breaks after a second by failing one of the two, possibly an
    administrator's undo. The caller ends its transaction instead and tries again.
    """


async def lock_clients(
    session: AsyncSession, client_ids: Iterable[int], *, nowait: bool = False
) -> None:
    """Hold the clients' rows until the transaction ends, and re-read them and their profiles.
    With ``nowait``, a client another transaction holds raises ``OwnerBusy`` at once
    (PostgreSQL; SQLite's single writer never waits in a cycle)."""
    ids = sorted(set(client_ids))
    if not ids:
        return
    await session.flush()
    for_update = not await session.run_sync(_begin_immediate)
    try:
        await _read_again(session, ids, for_update=for_update, nowait=nowait)
    except DBAPIError as exc:
        if _sqlstate(exc) == LOCK_NOT_AVAILABLE:
            raise OwnerBusy(f"client {ids} is locked by another transaction") from exc
        raise


def _sqlstate(exc: DBAPIError) -> str | None:
    # psycopg and asyncpg both name it ``sqlstate``.
    return getattr(exc.orig, "sqlstate", None)


async def _read_again(
    session: AsyncSession, ids: list[int], *, for_update: bool, nowait: bool = False
) -> None:
    """Read the clients ``ids`` and their profiles over what the session holds, noting the
    clients found without a profile (``store.NO_PROFILE``)."""
    # On the cursor: through the ORM's execution these two reads were nearly half of the time
    # the sink held SQLite's lock for a new dialog, which the router's batches wait out.
    lock: loaded.Lock = None
    if for_update:
        lock = "nowait" if nowait else "wait"
    await loaded.read_again(session, Client, ids, lock)
    profiles = await loaded.read_again(session, CrmProfile, ids)
    found = {profile.client_id for profile in profiles}
    missing = session.info.setdefault(NO_PROFILE, set())
    missing.difference_update(found)
    missing.update(set(ids) - found)


def _begin_immediate(session: Session) -> bool:
    """On SQLite, begin the transaction with the write lock; False on another database."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return False
    # A transaction the driver has already begun has written, so it holds the write lock.
    driver = connection.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    return True


async def lock_owner(session: AsyncSession, row: ClientIdentity | Dialog) -> int:
    """Lock the client who owns ``row`` now and return its id; ``row`` is read again.

    A merge that committed while this transaction waited for the lock has moved the row to
    the main client (or, for a row it did not move, left the merged-into pointer on the old
    one's profile): the owner is read again under each lock until it stays the same. On
    SQLite the lock is the database's write lock, taken before the owner is read, so the
    first read is the last: no merge can commit before this transaction ends.
    """
    await session.flush()  # the re-read must not drop a change not yet written
    if await session.run_sync(_begin_immediate):
        owner = await _current_owner(session, row)
        await _read_again(session, [owner], for_update=False)
        return owner
    locked: set[int] = set()
    while True:
        owner = await _current_owner(session, row)
        if owner in locked:
            return owner
        # A later owner is locked without waiting: this transaction holds an earlier one.
        await lock_clients(session, [owner], nowait=bool(locked))
        locked.add(owner)


async def _current_owner(session: AsyncSession, row: ClientIdentity | Dialog) -> int:
    # The row's client and that client's merged-into pointer in one read on the cursor; the
    # client is set on the row as a refresh would set it.
    [(client_id, merged_into)] = await core_rows(session, _owner_of(type(row)), {"id": row.id})
    set_committed_value(row, "client_id", client_id)
    owner: int = client_id
    seen = {owner}
    while merged_into is not None and merged_into not in seen:
        owner = merged_into
        seen.add(owner)
        merged_into = await session.scalar(
            select(CrmProfile.merged_into_id).where(CrmProfile.client_id == owner)
        )
    return owner


@cache
def _owner_of(kind: type[ClientIdentity | Dialog]) -> Any:
    """The client of the ``kind`` row bound as ``id``, and that client's merged-into pointer."""
    table: Any = kind.__table__
    profiles: Any = CrmProfile.__table__
    return (
        select(table.c.client_id, profiles.c.merged_into_id)
        .select_from(table)
        .outerjoin(profiles, profiles.c.client_id == table.c.client_id)
        .where(table.c.id == bindparam("id"))
    )
