"""Pushing the live load to the supervisors connected to this console process.

Every router event that can change the load (a dialog appeared, was offered, taken, moved or
closed; an operator's presence changed) marks the load stale. At most once per ``interval``
the pusher reads one snapshot of every line (``read_load``: a fixed handful of statements)
and sends each connected admin, analyst and manager their part of it (``narrow``) as a
``{"type": "load", ...}`` frame on their console socket. A burst of a thousand events costs one
read, not one per event or per person. The moment a waiting client becomes a long wait is a
change too, with no event behind it: the pusher wakes for it by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionMaker
from core.db.schema import Operator
from core.envelope import DialogEvent, PresenceEvent, utcnow
from core.roles import STATS_READER_ROLES, SUPERVISOR_ROLES
from operator_console.live import Connection, LiveEvent, OperatorHub
from operator_console.load.snapshot import LoadSnapshot, narrow, read_load
from operator_console.stats.scope import EVERYTHING, StatsScope, stats_scope

log = logging.getLogger(__name__)


VIEWER_ROLES = frozenset({*STATS_READER_ROLES, *SUPERVISOR_ROLES})
"""Who is sent load frames: admins, analysts and managers."""
SCOPE_TTL_S = 30.0
"""How long a manager's scope is reused before it is read again: a change to a line's queue
reaches their load frames within this."""


class LoadPusher:
    """Recomputes the load when it changes, at most once per ``interval`` seconds, and sends
    it to the viewers among the hub's connections."""

    def __init__(
        self,
        hub: OperatorHub,
        sessions: SessionMaker,
        interval: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.hub = hub
        self.sessions = sessions
        self.interval = interval
        self.clock = clock
        self._stale = asyncio.Event()
        self._scopes: dict[int, tuple[float, StatsScope | None]] = {}
        hub.listeners.append(self.note)

    def note(self, event: LiveEvent) -> None:
        """Mark the load stale when ``event`` can change it."""
        if isinstance(event, DialogEvent | PresenceEvent):
            self._stale.set()

    def viewers(self) -> list[Connection]:
        """This process's sockets of people who see the load."""
        return [
            conn
            for group in self.hub.connections.values()
            for conn in group
            if conn.role in VIEWER_ROLES
        ]

    async def run(self) -> None:
        """Push whenever the load went stale or a long wait begins, until the bus closes."""
        stopping = self.hub.bus.stopping
        wake_at: datetime | None = None
        while not stopping.is_set():
            timeout = None
            if wake_at is not None:
                timeout = max(0.0, (wake_at - self.clock()).total_seconds())
            await _first_of(self._stale, stopping, timeout)
            if stopping.is_set():
                return
            self._stale.clear()
            wake_at = None
            if self.viewers():
                try:
                    wake_at = await self.do_push()
                except Exception:
                    log.exception("could not push the live load; trying again on the next change")
            # The debounce: whatever arrives meanwhile is one more push, after this pause.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.interval)

    async def do_push(self) -> datetime | None:
        """Read the load once and send every viewer their part; returns when the next long
        wait begins."""
        async with self.sessions() as session:
            snapshot = await read_load(session, self.clock(), EVERYTHING)
            viewers = self.viewers()
            scopes = {conn.operator_id: await self._scope(session, conn) for conn in viewers}
        frames: dict[int, dict[str, Any]] = {}
        for conn in viewers:
            scope = scopes[conn.operator_id]
            if scope is None:
                continue
            if conn.operator_id not in frames:
                frames[conn.operator_id] = load_frame(narrow(snapshot, scope))
            conn.push(frames[conn.operator_id])
        return snapshot.next_long_wait_at

    async def _scope(self, session: AsyncSession, conn: Connection) -> StatsScope | None:
        """What a viewer may see; None when they may no longer see the load at all."""
        if conn.role in STATS_READER_ROLES:
            return EVERYTHING
        cached = self._scopes.get(conn.operator_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < SCOPE_TTL_S:
            return cached[1]
        operator = await session.get(Operator, conn.operator_id)
        scope = None
        # A manager removed or made an operator while their socket is open gets no more frames.
        if operator is not None and operator.role in VIEWER_ROLES:
            scope = await stats_scope(session, operator)
        self._scopes[conn.operator_id] = (now, scope)
        return scope


async def _first_of(a: asyncio.Event, b: asyncio.Event, seconds: float | None) -> None:
    """Wait until either event is set, or ``seconds`` have passed (None: no limit)."""
    waits = {asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())}
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def load_frame(snapshot: LoadSnapshot) -> dict[str, Any]:
    """The socket frame of a load snapshot."""
    return {"type": "load", **snapshot.model_dump(mode="json")}


LOAD_PUSHER = web.AppKey("load_pusher", LoadPusher)
"""The live load pusher of this console process."""
