"""Pure rendering of our outbound messages into VK ``messages.send`` calls."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from connectors.textsplit import split_text
from core.envelope import Attachment, OutboundMessage

TEXT_LIMIT = 9000
"""``messages.send``'s ``message`` limit, in characters (longer ones fail with error 914)."""
PARTS_PER_MESSAGE = 16
ATTACHMENTS_PER_SEND = 10
"""``messages.send``'s ``attachment`` takes at most 10 items."""
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
"""What ``photos.getMessagesUploadServer`` takes; other images go out as documents."""
GOODBYE_PART = PARTS_PER_MESSAGE - 1
"""The part number a goodbye uses with its dialog's id; no message part uses it."""
_INT31 = 2**31 - 1


@dataclass(frozen=True)
class VkSend:
    """One ``messages.send`` call."""

    peer_id: int
    message: str
    random_id: int
    files: tuple[Attachment, ...] = ()
    """Stored files to upload first and send as this call's ``attachment``."""


def as_photo(file: Attachment) -> bool:
    """True when a file goes through the photo upload (shown inline), not the document one."""
    return file.kind == "image" and file.mime.lower() in PHOTO_TYPES


def random_id(key: bytes, message_id: int, part: int) -> int:
    """The ``random_id`` of one part of one of our messages.

    VK drops a send whose ``random_id`` it has seen from this community before and answers with
    the earlier message, so a retry after a timeout cannot double-send. The number is our
    message id and part (``message_id * 16 + part``) put through a permutation of
    1..2**31-1 keyed with the installation's secret ``key``: the same message always gets the
    same number, two messages of one installation never share one (until 134 million messages
    wrap the 31 bits), and another installation (a fresh database, a second hub on the same
    community) scatters its numbers elsewhere instead of reusing ours. Never 0, which VK would
    read as "no dedupe"; within VK's int32.
    """
    if not 0 <= part < PARTS_PER_MESSAGE:
        raise ValueError("part out of range")
    return _permute(key, (message_id * PARTS_PER_MESSAGE + part) % _INT31) + 1


def _permute(key: bytes, value: int) -> int:
    """A keyed permutation of ``0 .. 2**31-2``: a four-round Feistel network on 32 bits,
    applied again while the result falls outside the range (cycle walking)."""
    while True:
        left, right = value >> 16, value & 0xFFFF
        for round_no in range(4):
            digest = hmac.digest(key, bytes((round_no,)) + right.to_bytes(2, "big"), "sha256")
            left, right = right, left ^ int.from_bytes(digest[:2], "big")
        value = (left << 16) | right
        if value < _INT31:
            return value


def render(message: OutboundMessage, key: bytes) -> list[VkSend]:
    """The calls that deliver ``message``: its text in parts of at most 9000 characters, the
    first part carrying up to 10 files; further files follow in sends of their own.

    ``key`` is the installation's ``random_id`` key. Parts beyond the 15 a message may use
    (the 16th number is the goodbye's) are dropped.
    """
    texts = [t for t in split_text(message.text, TEXT_LIMIT) if t]
    files = message.attachments
    groups = [
        tuple(files[i : i + ATTACHMENTS_PER_SEND])
        for i in range(0, len(files), ATTACHMENTS_PER_SEND)
    ]
    bodies: list[tuple[str, tuple[Attachment, ...]]] = []
    if texts or groups:
        bodies.append((texts[0] if texts else "", groups[0] if groups else ()))
    bodies += [(text, ()) for text in texts[1:]]
    bodies += [("", group) for group in groups[1:]]
    peer = int(message.external_user_id)
    return [
        VkSend(peer, text, random_id(key, message.message_id, i), group)
        for i, (text, group) in enumerate(bodies[:GOODBYE_PART])
    ]
