"""Channel accounts (bots, groups) held in memory, so webhooks answer without the database.

The console's channel admin API publishes a ``channels.changed`` entry on the ``channels``
stream after every change; each connector process reloads its accounts from the database when
it sees one, and also every ``REFRESH_S`` as a safety net for a notice lost in a Redis failover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from core import streams
from core.bus import Bus
from core.db import SessionMaker
from core.db.schema import Channel
from core.envelope import ChannelsChanged
from core.redis_connect import quiet_read_ms

log = logging.getLogger(__name__)

REFRESH_S = 30.0

NOTICE_BLOCK_MS = 60_000
"""How long the watch's read of change notices waits for one: the watch cancels the read when
the bus stops, so an idle hub need not renew it every ``block_ms`` to notice the stop."""


@dataclass(frozen=True)
class ChannelAccount:
    """One enabled channel account as a connector needs it."""

    id: int
    key: str
    kind: str
    line_id: int
    name: str
    config: Mapping[str, Any] = field(default_factory=dict)

    def setting(self, name: str, default: str = "") -> str:
        """A string setting of the account's config."""
        value = self.config.get(name, default)
        return str(value) if value is not None else default


async def do_announce_change(bus: Bus, channel_id: int, kind: str) -> None:
    """Tell every connector process that a channel account changed."""
    await bus.publish(streams.CHANNELS, ChannelsChanged(channel_id=channel_id, kind=kind))


class Accounts:
    """The enabled accounts of one kind of channel, by id and by public key (and the disabled
    ones by id)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.by_id: dict[int, ChannelAccount] = {}
        self.by_key: dict[str, ChannelAccount] = {}
        self.disabled: dict[int, ChannelAccount] = {}
        """Disabled accounts, whose webhooks the connector removes."""
        self._loads_started = 0
        self._loads_applied = 0
        self.loaded = asyncio.Event()
        self.last_notice_id: str | None = None
        """The last change notice heard: a restarted watch reads on from it."""

    async def load(self, sessions: SessionMaker) -> None:
        """Read the accounts of this kind from the database (the enabled ones in ``by_id`` and
        ``by_key``, the disabled ones in ``disabled``)."""
        self._loads_started += 1
        ticket = self._loads_started
        async with sessions() as session:
            rows = await session.scalars(select(Channel).where(Channel.kind == self.kind))
            accounts = [
                (
                    c.enabled,
                    ChannelAccount(c.id, c.key, c.kind, c.line_id, c.name, dict(c.config or {})),
                )
                for c in rows
            ]
        # Loads overlap (a change notice, the refresh, the console's own load before its 201):
        # one that started earlier read older rows, so it must not replace a later one's.
        if ticket < self._loads_applied:
            return
        self._loads_applied = ticket
        # Swap whole dicts: a webhook running meanwhile sees the old or the new set, never half.
        self.by_id = {a.id: a for on, a in accounts if on}
        self.by_key = {a.key: a for on, a in accounts if on}
        self.disabled = {a.id: a for on, a in accounts if not on}
        self.loaded.set()

    async def watch(
        self, bus: Bus, sessions: SessionMaker, on_change: Callable[[], Awaitable[None]]
    ) -> None:
        """Reload on every change notice of this kind (and every REFRESH_S) until the bus stops."""
        changed = asyncio.Event()
        listener = asyncio.create_task(self._listen(bus, changed))
        # The listener ends when its read fails: wake the watch then too. Its read blocks
        # until a notice comes, so the bus's stop wakes the watch, which cancels the read.
        listener.add_done_callback(lambda _task: changed.set())
        stopped = asyncio.create_task(bus.stopping.wait())
        stopped.add_done_callback(lambda _task: changed.set())
        # A turn for the listener to start pinning the stream's newest entry before the first
        # load, so a change saved meanwhile is in that load or heard; the refresh backs it up.
        await asyncio.sleep(0)
        try:
            await self.load(sessions)
            await on_change()
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(REFRESH_S):
                        await changed.wait()
                if bus.stopping.is_set():
                    return
                if listener.done():
                    listener.result()  # a failed read ends the watch, as the run loop expects
                    return
                changed.clear()
                try:
                    await self.load(sessions)
                    await on_change()
                except Exception:
                    log.exception("reloading %s accounts failed; keeping the old ones", self.kind)
        finally:
            for task in (listener, stopped):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _listen(self, bus: Bus, changed: asyncio.Event) -> None:
        block_ms = quiet_read_ms(bus.redis, NOTICE_BLOCK_MS)
        notices = bus.tail(streams.CHANNELS, block_ms=block_ms, after=self.last_notice_id)
        async for entry_id, notice in notices:
            if isinstance(notice, ChannelsChanged) and notice.kind == self.kind:
                changed.set()
            self.last_notice_id = entry_id
