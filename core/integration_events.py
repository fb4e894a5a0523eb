"""Building the events integrations subscribe to (``IntegrationEvent``) from stored rows.

The router and the CRM sink publish them on the ``events`` stream with the rest of a batch's
effects, so an event is only ever announced after its change committed. The id is derived from
what happened (a uuid5 of a key naming it), so a batch handled twice announces the same id and
a receiver that drops ids it has seen gets every happening once.

One entry of ``events`` serves the console and the integrations where it can: a stored
message's ``MessageEvent`` implies its ``message.created`` (or, for a client's edit, its
``message.updated``), and a dialog's ``DialogEvent``
carries the integration event emitted just before it (``router.batch``). ``carried`` reads the
integration event out of any entry; an entry holds at most one, so a stream id names it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, get_args

from core.db.schema import Dialog
from core.envelope import (
    DialogEvent,
    Envelope,
    HookEventName,
    IntegrationEvent,
    MessageEvent,
    MessageOrigin,
    MessageView,
)

__all__ = [
    "HOOK_EVENTS",
    "carried",
    "dialog_event",
    "edit_key",
    "integration_event",
    "message_created",
    "message_updated",
]

HOOK_EVENTS: tuple[HookEventName, ...] = get_args(HookEventName)
"""Every event name, in the order the documentation lists them."""

_NAMESPACE = uuid.UUID("6f1d3c52-0d8e-4a43-9d7c-5b7c1f0e2a10")


def integration_event(
    name: HookEventName, key: str, at: datetime, data: dict[str, Any]
) -> IntegrationEvent:
    """The event ``name`` whose happening ``key`` names (the same key, the same id)."""
    event_id = str(uuid.uuid5(_NAMESPACE, f"{name}:{key}"))
    return IntegrationEvent(id=event_id, event=name, at=at, data=data)


def dialog_data(dialog: Dialog) -> dict[str, Any]:
    """The public body of a dialog event: ids and state, never message text."""
    return {
        "dialog_id": dialog.id,
        "line_id": dialog.line_id,
        "channel_id": dialog.channel_id,
        "client_id": dialog.client_id,
        "operator_id": dialog.operator_id,
        "status": dialog.status,
    }


def dialog_event(
    name: HookEventName, dialog: Dialog, at: datetime, key: str, **extra: Any
) -> IntegrationEvent:
    """A ``dialog.*`` or ``rating.received`` event of ``dialog``; ``key`` tells this
    happening apart from others of the same dialog (a dialog reopens and closes again)."""
    return integration_event(name, f"{dialog.id}:{key}", at, {**dialog_data(dialog), **extra})


def message_created(message: MessageView, origin: MessageOrigin) -> IntegrationEvent:
    """``message.created`` of a stored message, from the console's view of it."""
    return integration_event(
        "message.created",
        str(message.id),
        message.at,
        {
            "message_id": message.id,
            "dialog_id": message.dialog_id,
            "client_id": origin.client_id,
            "channel_id": origin.channel_id,
            "author": message.author,
            "author_name": message.author_name,
            "text": message.text,
            "attachments": [a.model_dump() for a in message.attachments],
        },
    )


def message_updated(message: MessageView, origin: MessageOrigin) -> IntegrationEvent:
    """``message.updated`` of a client's message they edited: its new text and the one it
    replaced, one event per version."""
    replaced = message.edits[-1]
    return integration_event(
        "message.updated",
        edit_key(message),
        replaced.replaced_at,
        {
            "message_id": message.id,
            "dialog_id": message.dialog_id,
            "client_id": origin.client_id,
            "channel_id": origin.channel_id,
            "text": message.text,
            "previous_text": replaced.text,
        },
    )


def edit_key(message: MessageView) -> str:
    """What names one edit of a message: the same for the same edit handled again, another for
    the next one (its text, and the moment the text before it was replaced)."""
    digest = hashlib.blake2b(message.text.encode(), digest_size=8).hexdigest()
    return f"{message.id}:{message.edits[-1].replaced_at.isoformat()}:{digest}"


def carried(entry: Envelope) -> IntegrationEvent | None:
    """The integration event an entry of ``events`` carries, if any: the entry itself, the
    one riding on a dialog event, or the ``message.created`` a message event announces."""
    if isinstance(entry, IntegrationEvent):
        return entry
    if isinstance(entry, DialogEvent):
        return entry.hook
    if isinstance(entry, MessageEvent) and entry.created is not None:
        return message_created(entry.message, entry.created)
    if isinstance(entry, MessageEvent) and entry.updated is not None and entry.message.edits:
        return message_updated(entry.message, entry.updated)
    return None
