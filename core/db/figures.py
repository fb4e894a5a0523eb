"""Keeps each dialog's stored statistics figures (``core.dialog_figures``) true: before every
flush of a hub session (``engine.HubSession``), the figures of each new dialog and of each
dialog whose start, first answer, close or line changed are computed again, so they are
written in the same transaction as the change that defines them. The router is the writer of
those changes; a dialog written any other way (a seed, a test) gets its figures the same way.
Then the daily rollup (``core.db.rollup``) takes in the same dialogs' changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from core.db.rollup import COUNTED, refresh_rollup
from core.db.schema import Dialog, Line
from core.dialog_figures import FIGURES, dialog_figures, line_schedule, line_zone
from core.envelope import utcnow

SOURCES = ("opened_at", "first_response_at", "closed_at", "line_id")
"""What the figures are derived from."""


def before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """The ``before_flush`` hook. At each flush rather than at commit: a flushed dialog may
    leave the session's identity map (it holds objects weakly)."""
    new = [o for o in session.new if isinstance(o, Dialog)]
    dirty = [o for o in session.dirty if isinstance(o, Dialog)]
    changed = [d for d in dirty if _changed(d, SOURCES)]
    if new or changed:
        refresh_figures(session, [*new, *changed])
    counted = [d for d in dirty if _changed(d, ROLLUP_SOURCES)]
    gone = [o for o in session.deleted if isinstance(o, Dialog)]
    if new or counted or gone:
        refresh_rollup(session, new, counted, gone)


ROLLUP_SOURCES = tuple("opened_day" if name == "day_of" else name for name in COUNTED)


def _changed(dialog: Dialog, names: Iterable[str]) -> bool:
    attrs = inspect(dialog).attrs
    return any(attrs[name].history.has_changes() for name in names)


def refresh_figures(session: Session, dialogs: Iterable[Dialog]) -> None:
    """Recompute the figures of ``dialogs``, writing only those that changed."""
    # Kept with the session, Line rows too: the identity map holds them weakly, and the
    # batch would read a line again that only this function had read.
    clocks = session.info.setdefault("figure_clocks", {})
    with session.no_autoflush:
        for dialog in dialogs:
            if dialog.line_id not in clocks:
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
