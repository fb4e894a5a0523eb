"""Keeps each dialog's stored statistics figures (``core.dialog_figures``) true, in the
transaction of the batch that changed the dialog."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.db.schema import Dialog, Line
from core.dialog_figures import FIGURES, dialog_figures, line_schedule, line_zone


def refresh_figures(session: Session) -> None:
    """Recompute the figures of every dialog this session holds, writing only those that
    changed: the start, the first answer, the close or the line may have moved in this batch.
    Run synchronously (``AsyncSession.run_sync``) just before the batch commits."""
    dialogs = [o for o in (*session.identity_map.values(), *session.new) if isinstance(o, Dialog)]
    clocks = {}
    for dialog in dialogs:
        if dialog.line_id not in clocks:
            line = session.get(Line, dialog.line_id)
            assert line is not None
            zone = line_zone(line.id, line.timezone)
            clocks[line.id] = (zone, line_schedule(line.settings, zone))
        zone, schedule = clocks[dialog.line_id]
        figures = dialog_figures(
            dialog.opened_at, dialog.first_response_at, dialog.closed_at, zone, schedule
        )
        for name, value in zip(FIGURES, figures, strict=True):
            if getattr(dialog, name) != value:
                setattr(dialog, name, value)
