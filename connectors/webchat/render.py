"""Pure rendering of stored and outbound messages into visitor frames."""

from __future__ import annotations

from typing import Any

from core.db.schema import Message
from core.envelope import OutboundMessage

_AUTHOR = {"client": "visitor", "operator": "operator", "system": "system"}


def outbound_frame(message: OutboundMessage) -> dict[str, Any]:
    """The ``message`` frame for an outbound entry."""
    return {
        "type": "message",
        "id": message.message_id,
        "author": _AUTHOR[message.author],
        "author_name": message.author_name,
        "text": message.text,
        "client_msg_id": message.client_msg_id,
        "at": message.at.isoformat(),
    }


def history_frame(message: Message) -> dict[str, Any]:
    """A stored message as it appears in a ``welcome`` frame's history."""
    return {
        "id": message.id,
        "author": _AUTHOR.get(message.author, "system"),
        "author_name": message.author_name,
        "text": message.text,
        "client_msg_id": message.client_msg_id,
        "at": message.created_at.isoformat(),
    }
