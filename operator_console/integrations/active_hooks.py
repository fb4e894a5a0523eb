"""The active webhooks and the events each subscribes to, read again only when they may have
changed.

Nearly every batch of the ``events`` stream carries an integration event, and most hubs have
few webhooks or none: reading them from the database for each batch cost a transaction of
several thread hand-offs on the event loop per batch. A change made in this process (the admin
API) is seen by the next batch after its commit; one made by another process within
``seconds``.

While none is active the fan-out does not read the stream at all (``WebhookSender``): it waits
in ``changed`` for a change made in this process, or for ``seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from core.db import SessionMaker
from core.db.integrations_schema import Webhook
from core.db.listening import listening

HOOKS_SECONDS = 5.0
"""How long a read of the active webhooks stands when nothing in this process changed them."""

_ROW_CHANGES = ("after_insert", "after_update", "after_delete")
_ENDS = ("after_commit", "after_rollback")


class ActiveHooks:
    """The active webhooks as ``(id, events)`` pairs; ``watching`` while in use."""

    def __init__(self, sessions: SessionMaker, seconds: float = HOOKS_SECONDS) -> None:
        self.sessions = sessions
        self.seconds = seconds
        self._hooks: list[tuple[int, frozenset[str]]] = []
        self._until = 0.0
        # Sessions that flushed a webhook row and have not committed or rolled back yet: a
        # read meanwhile sees the state before it, which must not be kept.
        self._pending: set[int] = set()
        self._generation = 0
        self._change = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def read(self) -> list[tuple[int, frozenset[str]]]:
        """The active webhooks, from the last read while it stands, else from the database."""
        if time.monotonic() < self._until:
            return self._hooks
        generation = self._generation
        async with self.sessions() as session:
            query = select(Webhook.id, Webhook.events).where(Webhook.active)
            rows = (await session.execute(query)).all()
        hooks = [(hook_id, frozenset(events)) for hook_id, events in rows]
        # Kept only when no change began or ended while it was read.
        if generation == self._generation and not self._pending:
            self._hooks = hooks
            self._until = time.monotonic() + self.seconds
        return hooks

    def none_known(self) -> bool:
        """True while a standing read found no active webhook: ``read`` would answer an empty
        list without the database, so a batch can be dropped before its events are built."""
        return not self._hooks and time.monotonic() < self._until

    def forget_changes(self) -> None:
        """Start over what ``changed`` waits for: only changes from now on end its wait."""
        self._change.clear()

    async def changed(self, seconds: float) -> None:
        """Return after a change to a webhook committed in this process since
        ``forget_changes`` (under ``watching``), or after ``seconds``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._change.wait(), seconds)

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Read again after any webhook row is inserted, updated or deleted in this process."""
        self._loop = asyncio.get_running_loop()
        with (
            listening(Webhook, _ROW_CHANGES, self._row_changed),
            listening(Session, _ENDS, self._transaction_ended),
        ):
            yield

    def _row_changed(self, _mapper: Any, _connection: Any, target: Webhook) -> None:
        self._pending.add(id(object_session(target)))
        self._until = 0.0

    def _transaction_ended(self, session: Session) -> None:
        if id(session) in self._pending:
            self._pending.discard(id(session))
            self._generation += 1
            self._until = 0.0
            if self._loop is not None:  # the session may be another thread's
                self._loop.call_soon_threadsafe(self._change.set)
