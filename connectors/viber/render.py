"""Pure rendering of our outbound messages into Viber send_message bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.textsplit import split_text
from core.envelope import Attachment, OutboundMessage

TEXT_LIMIT = 7000
SENDER_NAME_MAX = 28
PICTURE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
PICTURE_MAX = 1024 * 1024
"""Viber's limit for a picture message, in bytes."""


def sender(name: str, avatar: str = "") -> dict[str, str]:
    """The ``sender`` object: the name is required and at most 28 characters."""
    body = {"name": (name.strip() or "Support")[:SENDER_NAME_MAX]}
    if avatar:
        body["avatar"] = avatar
    return body


def render(
    message: OutboundMessage,
    name: str,
    avatar: str = "",
    link: Callable[[Attachment], str | None] | None = None,
) -> list[dict[str, Any]]:
    """send_message bodies: the text in parts of at most 7000 characters, then the files.

    Viber fetches pictures and files from a public URL: ``link`` signs one for a stored file
    (``connectors.filelinks``). A file that has no link is named in the text instead.
    """
    text = message.text
    media: list[dict[str, Any]] = []
    unlinked: list[str] = []
    for att in message.attachments:
        url = link(att) if link is not None else None
        if url is None:
            unlinked.append(att.name or att.kind)
        else:
            media.append(_media(att, url))
    if unlinked:
        text = f"{text}\n[attachments: {', '.join(unlinked)}]".strip()
    head = {
        "receiver": message.external_user_id,
        "min_api_version": 1,
        "sender": sender(name, avatar),
        "tracking_data": f"openlines:{message.dialog_id}",
    }
    parts = [head | {"type": "text", "text": part} for part in split_text(text, TEXT_LIMIT)]
    return parts + [head | body for body in media]


def _media(att: Attachment, url: str) -> dict[str, Any]:
    # Viber shows only small JPEG, PNG and GIF pictures as pictures; any other file, and a
    # larger image, goes as a file message, which needs its size and name.
    if att.kind == "image" and att.mime in PICTURE_TYPES and 0 < att.size <= PICTURE_MAX:
        return {"type": "picture", "text": "", "media": url}
    return {"type": "file", "media": url, "size": att.size, "file_name": (att.name or "file")[:255]}
