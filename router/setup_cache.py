"""The line setup kept in memory between batches: lines, channels, line policies, supervisors
and the managers on each line, as plain immutable values.

They change only when someone edits the setup, while every batch of the router needs them; a
batch reads instead the one-row ``setup_version`` (core/db/routing_schema.py), which database
triggers change with every committed change to the tables behind these values, from whichever
process or connection. A batch that finds another version than the one its copy was read at
starts a new copy, so it never decides on a setup older than what its own transaction sees.

No ORM instance crosses sessions: what is kept is frozen dataclasses, tuples and the parsed
``LineSettings`` (never changed after reading).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from config.lines import LineSettings
from core.db.figures import LineClock
from core.db.on_cursor import EMPTY, Call, core_rows
from core.db.routing_schema import SetupVersion
from core.db.schema import Channel, Line
from core.dialog_figures import line_zone, settings_schedule
from router.snapshots import LinePolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LineFacts:
    """What the router reads of a line's row."""

    id: int
    name: str
    timezone: str
    distribution: str
    settings: LineSettings
    """The row's settings as routing reads them (invalid ones: defaults, ``line_settings``)."""


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    """What the router reads of a channel's row."""

    id: int
    line_id: int
    kind: str
    key: str
    name: str
    enabled: bool


def line_settings(line: Line) -> LineSettings:
    """A line's routing settings; a row with settings this version cannot read gets defaults."""
    try:
        return LineSettings.model_validate(line.settings or {})
    except ValueError:
        log.exception("line %d has invalid settings; routing it with defaults", line.id)
        return LineSettings()


def line_facts(line: Line, settings: LineSettings) -> LineFacts:
    """The plain values of a line's row."""
    return LineFacts(line.id, line.name, line.timezone, line.distribution, settings)


def channel_facts(channel: Channel) -> ChannelFacts:
    """The plain values of a channel's row."""
    return ChannelFacts(
        channel.id, channel.line_id, channel.kind, channel.key, channel.name, channel.enabled
    )


@dataclass
class SetupCopy:
    """The setup as read at one ``setup_version``; filled as batches ask for its parts."""

    version: int | None
    lines: dict[int, LineFacts] = field(default_factory=dict)
    channels: dict[int, ChannelFacts | None] = field(default_factory=dict)
    policies: dict[int, LinePolicy] = field(default_factory=dict)
    supervisors: tuple[tuple[int, str], ...] | None = None
    """Every admin and manager, ``(operator id, role)``."""
    members: dict[int, tuple[int, ...]] = field(default_factory=dict)
    """Per line: everyone in its queue, directly or through a group (``line_members``)."""
    clocks: dict[int, LineClock] = field(default_factory=dict)

    def clock(self, line_id: int) -> LineClock | None:
        """The line's clock for its dialogs' figures (``core.db.figures``), once the copy
        holds the line; None before."""
        if line_id not in self.clocks:
            line = self.lines.get(line_id)
            if line is None:
                return None
            zone = line_zone(line.id, line.timezone)
            self.clocks[line_id] = (zone, settings_schedule(line.settings, zone))
        return self.clocks[line_id]


class SetupCache:
    """The process's copies of the setup, one per database (the writer's and the console's
    engines of one database keep one each, which is as correct and simpler)."""

    def __init__(self) -> None:
        self._copies: dict[str, SetupCopy] = {}
        # The writer's thread and the event loop's console reads share the copies.
        self._lock = threading.Lock()

    async def current(self, session: AsyncSession) -> SetupCopy:
        """The copy valid in ``session``'s transaction: one tiny read of the version."""
        # A Core read, flushed first as the ORM would autoflush, since a pending change of
        # this transaction may move the version.
        return self.at_version(session, await core_rows(session, *version_read()))

    def at_version(self, session: AsyncSession, rows: Sequence[Any]) -> SetupCopy:
        """The copy valid at the version that ``version_read`` found in ``session``'s
        transaction: for a caller that ran the read together with reads of its own."""
        version = rows[0][0] if rows else None
        bind = session.bind
        if version is None or bind is None:
            return SetupCopy(None)  # no version row: nothing is shared, everything re-read
        engine = bind if isinstance(bind, AsyncEngine) else bind.engine
        database = engine.url.render_as_string(hide_password=True)
        with self._lock:
            kept = self._copies.get(database)
            if kept is None or kept.version != version:
                kept = self._copies[database] = SetupCopy(version)
            return kept

    def clear(self) -> None:
        """Forget every copy (the next batch reads the setup again)."""
        with self._lock:
            self._copies.clear()


SETUP = SetupCache()
"""The process-wide cache."""


def version_read() -> Call:
    """The version read, as ``core_rows`` and ``core_rows_together`` take it."""
    return _version_statement(), EMPTY


@cache
def _version_statement() -> Select[Any]:
    """The version read, built once: building a select costs more than running this one."""
    c = SetupVersion.__table__.c
    return select(c.version).where(c.id == 1)
