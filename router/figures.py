"""Keeps each dialog's stored statistics figures (``core.dialog_figures``) true, in the
transaction of the batch that changed the dialog."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from core.db.schema import Dialog, Line
from core.dialog_figures import FIGURES, dialog_figures, line_schedule, line_zone


def keep_figures(session: Session) -> None:
    """Refresh the figures of every new or changed dialog before each flush of ``session``:
    its start, first answer, close or line may have moved. A flushed dialog may leave the
    session's identity map (it holds objects weakly), so waiting for the commit would miss it."""
    event.listen(session, "before_flush", _before_flush)


SOURCES = ("opened_at", "first_response_at", "closed_at", "line_id")
"""What the figures are derived from."""


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    changed = [o for o in session.new if isinstance(o, Dialog)]
    for dialog in session.dirty:
        if isinstance(dialog, Dialog):
            attrs = inspect(dialog).attrs
            if any(attrs[name].history.has_changes() for name in SOURCES):
                changed.append(dialog)
    if changed:
        refresh_figures(session, changed)


def refresh_figures(session: Session, dialogs: Iterable[Dialog] | None = None) -> None:
    """Recompute the figures of ``dialogs`` (by default every dialog ``session`` holds),
    writing only those that changed."""
    if dialogs is None:
        dialogs = [
            o for o in (*session.identity_map.values(), *session.new) if isinstance(o, Dialog)
        ]
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
            figures = dialog_figures(
                dialog.opened_at, dialog.first_response_at, dialog.closed_at, zone, schedule
            )
            for name, value in zip(FIGURES, figures, strict=True):
                if getattr(dialog, name) != value:
                    setattr(dialog, name, value)
