"""Dialogs' message counters, moved on by Core statements with the rollup in step.

Every client message and operator reply moves its dialog's ``client_messages`` or
``operator_messages`` and its ``last_message_at`` on. Through the unit of work that made the
dialog dirty at every message: a flush of its row and the figures hook's look at it
(``core.db.figures``), a third of the router's cost for a message to an open dialog. Here the
counters of a batch's dialogs move in one ``executemany`` of additions, the daily rollup's
message counts in one upsert, and each entity takes the new values as stored, so that nothing
is left for the flush.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.db import on_cursor
from core.db.rollup import add_messages
from core.db.schema import Dialog


@dataclass
class _Counted:
    """The messages a dialog gains."""

    dialog: Dialog
    client: int = 0
    operator: int = 0


def count_messages(
    session: Session, at: datetime, client: Iterable[Dialog] = (), operator: Iterable[Dialog] = ()
) -> None:
    """Count a client message (``client``) or an operator's (``operator``) for each dialog
    named, as often as it is named, the last of them at ``at``.

    The session is flushed first: the rollup rows are the dialogs' as stored, and a pending
    change of a counter would otherwise be written over."""
    counting = Counting.of(at, client, operator)
    session.flush()
    if counting.call is not None:
        on_cursor.run(session.connection(), *counting.call)
    counting.done(session)


@dataclass
class Counting:
    """``count_messages`` in two steps, for a caller that sends its statement with others
    (``core.db.on_cursor.run_together``): ``call``, run after a flush of the session, and then
    ``done``."""

    at: datetime
    counted: dict[int, _Counted]

    @classmethod
    def of(
        cls, at: datetime, client: Iterable[Dialog] = (), operator: Iterable[Dialog] = ()
    ) -> Counting:
        counted: dict[int, _Counted] = {}
        for dialog in client:
            counted.setdefault(dialog.id, _Counted(dialog)).client += 1
        for dialog in operator:
            counted.setdefault(dialog.id, _Counted(dialog)).operator += 1
        return cls(at, counted)

    @property
    def call(self) -> on_cursor.Call | None:
        """The additions to the counters, one ``executemany``; None when nothing is counted."""
        if not self.counted:
            return None
        rows = [
            {"b_id": i, "b_client": c.client, "b_operator": c.operator, "b_at": self.at}
            for i, c in self.counted.items()
        ]
        return _add_statement(), rows

    def done(self, session: Session) -> None:
        """The rollup's share of the additions, and the entities' new values as stored."""
        counted = self.counted.values()
        if not counted:
            return
        add_messages(session, [(c.dialog, c.client + c.operator) for c in counted])
        for c in counted:
            dialog = c.dialog
            set_committed_value(dialog, "client_messages", dialog.client_messages + c.client)
            set_committed_value(dialog, "operator_messages", dialog.operator_messages + c.operator)
            set_committed_value(dialog, "last_message_at", self.at)


@cache
def _add_statement() -> Any:
    """The additions to the counters of the dialog bound as ``b_id``."""
    dialogs = cast(Table, Dialog.__table__)
    c = dialogs.c
    return (
        update(dialogs)
        .where(c.id == bindparam("b_id"))
        .values(
            client_messages=c.client_messages + bindparam("b_client"),
            operator_messages=c.operator_messages + bindparam("b_operator"),
            last_message_at=bindparam("b_at"),
        )
    )
