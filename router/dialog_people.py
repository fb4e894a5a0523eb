"""Who is around a dialog besides its operator: the offers made of it and the colleagues in
it, read set-wise by statements built once (``core.db.on_cursor``). Kept apart from
``router.statements`` so that ``router.batch``, which announces dialogs, can read them too."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, select

from core.db.routing_schema import DialogOffer, DialogParticipant


@cache
def offers_of_dialogs() -> Any:
    """(dialog id, operator id, state, exclusive) of the offers of the dialogs bound as
    ``ids``, oldest first."""
    c = DialogOffer.__table__.c
    return (
        select(c.dialog_id, c.operator_id, c.state, c.exclusive)
        .where(c.dialog_id.in_(bindparam("ids", expanding=True)))
        .order_by(c.id)
    )


@cache
def participants_of_dialogs() -> Any:
    """(dialog id, operator id) of the participants of the dialogs bound as ``ids``, in the
    order they joined."""
    c = DialogParticipant.__table__.c
    return (
        select(c.dialog_id, c.operator_id)
        .where(c.dialog_id.in_(bindparam("ids", expanding=True)))
        .order_by(c.joined_at, c.operator_id)
    )
