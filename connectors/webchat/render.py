"""Pure rendering of stored and outbound messages into visitor frames."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connectors.filelinks import FileLinks
from core.db.schema import Message
from core.envelope import Attachment, OutboundMessage

_AUTHOR = {"client": "visitor", "operator": "operator", "system": "system"}


def files(attachments: Iterable[Attachment], links: FileLinks | None) -> list[dict[str, Any]]:
    """Attachments as the visitor gets them: each with a signed public url (stored files only;
    the visitor has no console session)."""
    shown = []
    for att in attachments:
        url = links.path(att) if links is not None else None
        if url is not None:
            shown.append({"kind": att.kind, "url": url, "name": att.name, "size": att.size})
    return shown


def outbound_frame(message: OutboundMessage, links: FileLinks | None = None) -> dict[str, Any]:
    """The ``message`` frame for an outbound entry."""
    return {
        "attachments": files(message.attachments, links),
        "type": "message",
        "id": message.message_id,
        "author": _AUTHOR[message.author],
        "author_name": message.author_name,
        "text": message.text,
        "client_msg_id": message.client_msg_id,
        "at": message.at.isoformat(),
    }


def history_frame(message: Message, links: FileLinks | None = None) -> dict[str, Any]:
    """A stored message as it appears in a ``welcome`` frame's history."""
    stored = (Attachment.model_validate(a) for a in message.attachments or ())
    return {
        "attachments": files(stored, links),
        "id": message.id,
        "author": _AUTHOR.get(message.author, "system"),
        "author_name": message.author_name,
        "text": message.text,
        "client_msg_id": message.client_msg_id,
        "at": message.created_at.isoformat(),
    }
