"""The writer's sessions: the ``AsyncSession`` interface, each call made directly.

An ``AsyncSession`` runs every call (``execute``, ``get``, ``flush``, the transaction's begin
and end) in a greenlet of its own, so that an async driver can suspend it midway, and closes
itself in a task of its own, so that a cancellation cannot abandon the close. On the database
writer's thread (``core.db.writer``) the driver is synchronous: no call ever suspends, and a
cancellation cannot come between a call's start and its end. There each greenlet and task only
cost CPU, about a quarter of a statement's, paid on every call of every batch; these sessions
call the synchronous session at once instead, with the same arguments and results.

Only for sessions of an engine whose driver never awaits: through an async driver the first
statement would fail, as the driver finds no greenlet to suspend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import util
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction
from sqlalchemy.sql import Executable

T = TypeVar("T")

_EXECUTE_OPTIONS = util.immutabledict({"prebuffer_rows": True})
"""What ``AsyncSession`` adds to each statement's options: its rows are read at once."""


def _with_prebuffer(options: Any) -> Any:
    if options:
        return util.immutabledict(options).union(_EXECUTE_OPTIONS)
    return _EXECUTE_OPTIONS


class DirectTransaction(AsyncSessionTransaction):
    """``AsyncSessionTransaction`` whose begin, commit and rollback are direct calls."""

    __slots__ = ()

    async def start(self, is_ctxmanager: bool = False) -> DirectTransaction:
        """Begin the session's transaction (a savepoint when nested)."""
        sync = self.session.sync_session
        self.sync_transaction = self._assign_proxied(
            sync.begin_nested() if self.nested else sync.begin()
        )
        if is_ctxmanager:
            self.sync_transaction.__enter__()
        return self

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        self._sync_transaction().__exit__(type_, value, traceback)

    async def commit(self) -> None:
        """Commit this transaction."""
        self._sync_transaction().commit()

    async def rollback(self) -> None:
        """Roll this transaction back."""
        self._sync_transaction().rollback()


class DirectSession(AsyncSession):
    """``AsyncSession`` for an engine with a synchronous driver: every call made directly."""

    async def execute(
        self,
        statement: Executable,
        params: Any = None,
        *,
        execution_options: Any = util.EMPTY_DICT,
        bind_arguments: Any = None,
        **kw: Any,
    ) -> Result[Any]:
        """As ``AsyncSession.execute``."""
        return self.sync_session.execute(
            statement,
            params=params,
            execution_options=_with_prebuffer(execution_options),
            bind_arguments=bind_arguments,
            **kw,
        )

    async def scalar(
        self,
        statement: Executable,
        params: Any = None,
        *,
        execution_options: Any = util.EMPTY_DICT,
        bind_arguments: Any = None,
        **kw: Any,
    ) -> Any:
        """As ``AsyncSession.scalar``."""
        return self.sync_session.scalar(
            statement,
            params=params,
            execution_options=_with_prebuffer(execution_options),
            bind_arguments=bind_arguments,
            **kw,
        )

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        """As ``AsyncSession.get``."""
        return self.sync_session.get(entity, ident, **kw)

    async def flush(self, objects: Sequence[Any] | None = None) -> None:
        """As ``AsyncSession.flush``."""
        self.sync_session.flush(objects=objects)

    async def delete(self, instance: object) -> None:
        """As ``AsyncSession.delete``."""
        self.sync_session.delete(instance)

    async def run_sync(self, fn: Callable[..., T], *arg: Any, **kw: Any) -> T:
        """As ``AsyncSession.run_sync``."""
        return fn(self.sync_session, *arg, **kw)

    async def commit(self) -> None:
        """As ``AsyncSession.commit``."""
        self.sync_session.commit()

    async def rollback(self) -> None:
        """As ``AsyncSession.rollback``."""
        self.sync_session.rollback()

    async def close(self) -> None:
        """As ``AsyncSession.close``."""
        self.sync_session.close()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        # A direct close runs to its end: no cancellation can come between.
        self.sync_session.close()

    def begin(self) -> DirectTransaction:
        """As ``AsyncSession.begin``."""
        return DirectTransaction(self)

    def begin_nested(self) -> DirectTransaction:
        """As ``AsyncSession.begin_nested``."""
        return DirectTransaction(self, nested=True)
