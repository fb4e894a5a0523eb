"""Pure rendering of our outbound messages into VK ``messages.send`` calls."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.textsplit import split_text
from core.envelope import OutboundMessage

TEXT_LIMIT = 9000
"""``messages.send``'s ``message`` limit, in characters (longer ones fail with error 914)."""
PARTS_PER_MESSAGE = 16
GOODBYE_PART = PARTS_PER_MESSAGE - 1
"""The part number a goodbye uses with its dialog's id; no message part uses it."""
_INT31 = 2**31 - 1


@dataclass(frozen=True)
class VkSend:
    """One ``messages.send`` call."""

    peer_id: int
    message: str
    random_id: int


def random_id(message_id: int, part: int) -> int:
    """The ``random_id`` of one part of one of our messages.

    VK drops a send whose ``random_id`` it has seen from this community before and answers with
    the earlier message, so a retry after a timeout cannot double-send. Derived from our unique
    message id (not hashed), two of our messages never share one until 134 million messages
    wrap the 31 bits; it is never 0, which VK would read as "no dedupe".
    """
    if not 0 <= part < PARTS_PER_MESSAGE:
        raise ValueError("part out of range")
    return (message_id * PARTS_PER_MESSAGE + part) % _INT31 or 1


def render(message: OutboundMessage) -> list[VkSend]:
    """The calls that deliver ``message``: its text in parts of at most 9000 characters.

    Sending a file to VK means uploading it to VK first; until that is built, attachments are
    named in the text so the client knows something was meant to come with it.
    """
    text = message.text
    if message.attachments:
        names = ", ".join(a.name or a.kind for a in message.attachments)
        text = f"{text}\n[attachments: {names}]".strip()
    parts = split_text(text, TEXT_LIMIT)[:GOODBYE_PART]
    peer = int(message.external_user_id)
    return [VkSend(peer, part, random_id(message.message_id, i)) for i, part in enumerate(parts)]
