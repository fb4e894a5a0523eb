"""Giving a dialog to an operator, written at once by Core statements.

Through the unit of work an assignment cost a flush of its own: the dialog and the operator
dirty, the flush set up, sorted and torn down for two rows, and the statistics' hook looking at
them; more than a third of what a new dialog costs the router. A dialog with nothing else
pending is written here by one UPDATE, the operator's last assignment by another (once per
batch: the same time leaves it as it is), and each entity takes the values as stored, as the
message counters do (``core.db.counters``). A dialog that holds other changes goes through the
unit of work as before, with them.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.db import on_cursor
from core.db.rollup import move_stored
from core.db.schema import Dialog, Operator


def assign(session: Session, dialog: Dialog, operator: Operator, now: datetime) -> None:
    """Give ``dialog`` to ``operator`` at ``now``, in the session's transaction."""
    values = {"operator_id": operator.id, "status": "open", "assigned_at": now, "wait_reason": None}
    if inspect(dialog).modified:
        for name, value in values.items():
            setattr(dialog, name, value)
    else:
        session.flush()  # what the statements below come after
        connection = session.connection()
        statement = _update_by_id(Dialog, tuple(values))
        on_cursor.run(connection, statement, {"b_id": dialog.id, **values})
        move_stored(session, dialog, values)
    if operator.last_assigned_at == now:
        return  # several dialogs given out in one batch: the row holds this time already
    if inspect(operator).modified:
        operator.last_assigned_at = now
        return
    statement = _update_by_id(Operator, ("last_assigned_at",))
    on_cursor.run(session.connection(), statement, {"b_id": operator.id, "last_assigned_at": now})
    set_committed_value(operator, "last_assigned_at", now)


@cache
def _update_by_id(entity: type[Dialog] | type[Operator], columns: tuple[str, ...]) -> Any:
    """An UPDATE of ``columns`` of the row bound as ``b_id``, each bound by its own name."""
    table: Table = entity.__table__  # type: ignore[assignment]
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(name) for name in columns})
    )
