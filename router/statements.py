"""Statements the router's runs send in every batch, built once.

Building a statement and walking it for its cache key cost more than running it on the
writer's synchronous driver (about 60 µs against 70 µs for a read of a few rows): the lists a
run reads by go in as expanding parameters instead of into a new statement each time.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, select

from core.db.schema import Message


@cache
def by_ids(entity: Any) -> Any:
    """The rows of ``entity`` whose ids are bound as ``ids``."""
    return select(entity).where(entity.id.in_(bindparam("ids", expanding=True)))


@cache
def replies_by_client_ids() -> Any:
    """The messages of the dialogs bound as ``dialog_ids`` whose client message id is one of
    ``client_msg_ids`` (the cross product: the caller keeps only its pairs)."""
    return select(Message).where(
        Message.dialog_id.in_(bindparam("dialog_ids", expanding=True)),
        Message.client_msg_id.in_(bindparam("client_msg_ids", expanding=True)),
    )


@cache
def insert_messages() -> Any:
    """One INSERT … RETURNING of messages, a row per parameter set."""
    return insert(Message).returning(Message)
