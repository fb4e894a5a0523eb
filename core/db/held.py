"""Sessions that keep every entity they hold until they end, not only while code refers to it.

A session's identity map refers to clean persistent entities weakly: one that a step of a
batch read and let go is read again by the next step's ``get``. The CRM sink's steps each look
up the line, client, profile and lead they need on their own, so one opened dialog read the
same rows two or three times; the router read a new dialog's client back to show it, and the
operator it had just read for the load to assign the dialog. Holding them costs the memory of
one batch's rows.

Staleness is no concern here: code that must see another transaction's commit re-reads with
``populate_existing`` or ``refresh`` (``router.locks``, ``crm_sink.locks``), as it must
whenever a caller still holds the entity anyway.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEEP = ("pending_to_persistent", "deleted_to_persistent", "detached_to_persistent",
         "loaded_as_persistent")  # fmt: skip
_LET_GO = ("persistent_to_detached", "persistent_to_deleted", "persistent_to_transient")

_HELD = "held entities"
"""The key of a holding session's entities in its ``info``, by identity (entities need not be
hashable)."""


def hold_entities(session: Session) -> None:
    """Keep a reference to every entity that becomes persistent in ``session`` from now on
    until it leaves the session (at the latest when the session closes). For sessions of a
    class given to ``watch``."""
    session.info[_HELD] = {}


def watch(session_class: type[Session]) -> None:
    """Let sessions of ``session_class`` hold their entities: listeners of the class, so that
    a session that holds costs one assignment, not listeners of its own (those cost a third of
    an empty batch of the router's to set up)."""
    for name in _KEEP:
        event.listen(session_class, name, _keep)
    for name in _LET_GO:
        event.listen(session_class, name, _let_go)


def _keep(session: Session, instance: object) -> None:
    held = session.info.get(_HELD)
    if held is not None:
        held[id(instance)] = instance


def _let_go(session: Session, instance: object) -> None:
    held = session.info.get(_HELD)
    if held is not None:
        held.pop(id(instance), None)
