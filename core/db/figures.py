"""Keeps each dialog's stored statistics figures (``core.dialog_figures``) true: before every
flush of a hub session (``engine.HubSession``), the figures of each new dialog and of each
dialog whose start, first answer, close or line changed are computed again, so they are
written in the same transaction as the change that defines them. The router is the writer of
those changes; a dialog written any other way (a seed, a test) gets its figures the same way.
Then the daily rollup (``core.db.rollup``) takes in the same dialogs' changes.

A change of a line's time zone or working hours (holidays included) changes what the figures
of its past dialogs would be: the change is noted in ``stats_figure_recounts`` in the same
transaction, and ``core.db.recount`` counts them again in the background."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.orm.base import PASSIVE_NO_INITIALIZE

from config.schedule import Schedule
from core.db.rollup import COUNTED, refresh_rollup, upsert_into
from core.db.rollup_schema import FigureRecount
from core.db.schema import Dialog, Line
from core.dialog_figures import FIGURES, dialog_figures, line_schedule, line_zone
from core.envelope import utcnow

SOURCES = ("opened_at", "first_response_at", "closed_at", "line_id")
"""What the figures are derived from."""


def before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """The ``before_flush`` hook. At each flush rather than at commit: a flushed dialog may
    leave the session's identity map (it holds objects weakly)."""
    # ``session.dirty`` builds a new set at each call: once per flush is enough.
    touched = session.dirty
    moved = [o.id for o in touched if isinstance(o, Line) and _clock_changed(o)]
    if moved:
        do_note_recounts(session, moved)
    new = [o for o in session.new if isinstance(o, Dialog)]
    dirty = [o for o in touched if isinstance(o, Dialog)]
    changed = [d for d in dirty if _changed(d, SOURCES)]
    if new or changed:
        refresh_figures(session, [*new, *changed])
    counted = [d for d in dirty if _changed(d, ROLLUP_SOURCES)]
    gone = [o for o in session.deleted if isinstance(o, Dialog)]
    if new or counted or gone:
        refresh_rollup(session, new, counted, gone)


def prepare_new_dialog(session: Session, dialog: Dialog) -> None:
    """What ``before_flush`` does for a new dialog, for one stored without the flush
    (``core.db.loaded.stored``): its figures set on it, and its contribution added to the
    rollup. Call it just before the dialog is stored, in the same transaction."""
    refresh_figures(session, [dialog])
    refresh_rollup(session, [dialog], [], [])


ROLLUP_SOURCES = tuple("opened_day" if name == "day_of" else name for name in COUNTED)


def _changed(dialog: Dialog, names: Iterable[str]) -> bool:
    # Only an attribute set since the last flush keeps its old value in ``committed_state``,
    # so the others cannot have changed. Not ``inspect(dialog).attrs``: it builds a view of
    # every attribute of the row, which cost more than the whole check.
    touched = inspect(dialog).committed_state
    return any(
        name in touched and get_history(dialog, name, PASSIVE_NO_INITIALIZE).has_changes()
        for name in names
    )


LineClock = tuple[ZoneInfo, Schedule | None]
"""A line's time zone and working hours, as the figures read them."""

CLOCKS_FROM = "figure clocks from"
"""``session.info`` key: a function giving a line's clock from a copy of the line valid in the
session's transaction, or None when it holds none (the router's setup cache,
``router.setup_cache``); the figures then need not read the line."""


def refresh_figures(session: Session, dialogs: Iterable[Dialog]) -> None:
    """Recompute the figures of ``dialogs``, writing only those that changed."""
    # Kept with the session, Line rows too: the identity map holds them weakly, and the
    # batch would read a line again that only this function had read.
    clocks: dict[int, tuple[Line | None, ZoneInfo, Schedule | None]]
    clocks = session.info.setdefault("figure_clocks", {})
    known: Callable[[int], LineClock | None] | None = session.info.get(CLOCKS_FROM)
    with session.no_autoflush:
        for dialog in dialogs:
            if dialog.line_id not in clocks:
                clock = known(dialog.line_id) if known is not None else None
                if clock is not None:
                    clocks[dialog.line_id] = (None, *clock)
                else:
                    line = session.get(Line, dialog.line_id)
                    assert line is not None
                    zone = line_zone(line.id, line.timezone)
                    clocks[line.id] = (line, zone, line_schedule(line.settings, zone))
            _line, zone, schedule = clocks[dialog.line_id]
            if dialog.opened_at is None:  # the column's default, which the flush would set
                dialog.opened_at = utcnow()
            figures = dialog_figures(
                dialog.opened_at, dialog.first_response_at, dialog.closed_at, zone, schedule
            )
            for name, value in zip(FIGURES, figures, strict=True):
                if getattr(dialog, name) != value:
                    setattr(dialog, name, value)


RECOUNTS = cast(Table, FigureRecount.__table__)


def _before(line: Line, name: str) -> tuple[bool, Any]:
    """(known, value) of a line attribute as the database holds it."""
    history = inspect(line).attrs[name].history
    if history.deleted:
        return True, history.deleted[0]
    if history.unchanged:
        return True, history.unchanged[0]
    return not history.added, getattr(line, name)


def _clock_changed(line: Line) -> bool:
    """Whether this flush changes the line's zone or working hours as the figures read them;
    a change whose old value the session never loaded counts as one."""
    (zone_known, old_zone), (settings_known, old_settings) = (
        _before(line, "timezone"),
        _before(line, "settings"),
    )
    if not (zone_known and settings_known):
        return True
    before = line_zone(line.id, old_zone)
    after = line_zone(line.id, line.timezone)
    return (before, line_schedule(old_settings, before)) != (
        after,
        line_schedule(line.settings, after),
    )


def do_note_recounts(session: Session, line_ids: list[int]) -> None:
    """Note that the dialogs of these lines need their figures counted again, from the first;
    a recount already under way starts over, as what it did so far may be stale."""
    clocks = session.info.get("figure_clocks", {})
    for line_id in line_ids:
        clocks.pop(line_id, None)
    connection = session.connection()
    stmt = upsert_into(connection.dialect.name, RECOUNTS)
    stmt = stmt.on_conflict_do_update(
        index_elements=["line_id"],
        set_={"after_dialog_id": 0, "requested_at": stmt.excluded.requested_at},
    )
    now = utcnow()
    connection.execute(
        stmt, [{"line_id": i, "after_dialog_id": 0, "requested_at": now} for i in line_ids]
    )
