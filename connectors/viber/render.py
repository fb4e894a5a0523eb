"""Pure rendering of our outbound messages into Viber send_message bodies."""

from __future__ import annotations

from typing import Any

from connectors.textsplit import split_text
from core.envelope import OutboundMessage

TEXT_LIMIT = 7000
SENDER_NAME_MAX = 28


def sender(name: str, avatar: str = "") -> dict[str, str]:
    """The ``sender`` object: the name is required and at most 28 characters."""
    body = {"name": (name.strip() or "Support")[:SENDER_NAME_MAX]}
    if avatar:
        body["avatar"] = avatar
    return body


def render(message: OutboundMessage, name: str, avatar: str = "") -> list[dict[str, Any]]:
    """send_message bodies: the text in parts of at most 7000 characters.

    Viber fetches pictures and files from a public URL, and our stored files are only for
    logged-in operators, so attachments are named in the text instead of being sent.
    """
    text = message.text
    if message.attachments:
        names = ", ".join(a.name or a.kind for a in message.attachments)
        text = f"{text}\n[attachments: {names}]".strip()
    return [
        {
            "receiver": message.external_user_id,
            "min_api_version": 1,
            "sender": sender(name, avatar),
            "tracking_data": f"openlines:{message.dialog_id}",
            "type": "text",
            "text": part,
        }
        for part in split_text(text, TEXT_LIMIT)
    ]
