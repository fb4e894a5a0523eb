"""Frames the visitor socket sends back on its own: errors, the refusal of a disabled chat,
what a form's contact details add to the socket's hints, and the envelope of a message."""

from __future__ import annotations

import contextlib

from connectors.webchat.config import CAPABILITIES
from connectors.webchat.link import VisitorLink
from connectors.webchat.parse import (
    ContactDetails,
    FrameError,
    VisitorText,
    check_contact,
    parse_frame,
)
from connectors.webchat.token import Visitor
from connectors.webchat.uploads import check_files
from core import frames
from core.envelope import ClientHints, InboundMessage

DISABLED_REASON = "this chat is disabled"
DISABLED_CLOSE = 4403
"""The close code of a socket to a disabled chat (4000-4999 are the application's own)."""


def with_contact(hints: ClientHints | None, contact: ContactDetails) -> ClientHints:
    """The socket's hints with what a form said (the visitor's own word, unverified); a
    site-signed identity keeps its own name and email, which the site vouches for."""
    base = hints or ClientHints()
    signed = base.site_identity is not None
    return base.model_copy(
        update={
            "name": (signed and base.name) or contact.name or base.name,
            "email": (signed and base.email) or contact.email or base.email,
            "phone": _e164(contact.phone) if contact.phone else base.phone,
        }
    )


def _e164(phone: str) -> str:
    """A phone ``check_contact`` accepted, as ``+<country code><number>``."""
    import phonenumbers  # imported by check_contact already: no start-up cost

    return phonenumbers.format_number(
        phonenumbers.parse(phone, None), phonenumbers.PhoneNumberFormat.E164
    )


async def refuse(ws: VisitorLink) -> None:
    """Tell the widget its chat is disabled, then close with ``DISABLED_CLOSE``."""
    await send_error(ws, "chat_disabled", DISABLED_REASON)
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close(code=DISABLED_CLOSE, message=DISABLED_REASON.encode())


def client_msg_id(data: str) -> str | None:
    """The ``client_msg_id`` of a message frame, for an error about it."""
    parsed = parse_frame(data)
    return parsed.client_msg_id if isinstance(parsed, VisitorText | FrameError) else None


async def send_error(
    ws: VisitorLink, code: str, reason: str, client_msg_id: str | None = None
) -> None:
    frame = {"type": "error", "code": code, "reason": reason}
    if client_msg_id is not None:
        frame["client_msg_id"] = client_msg_id
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_json(frame, dumps=frames.dumps)


def visitor_message(
    secret: bytes, channel_id: int, visitor: Visitor, text: VisitorText, hints: ClientHints | None
) -> InboundMessage | str:
    """The envelope of a visitor's message with the socket's ``hints``, or why it is refused."""
    if text.contact is not None:
        refused = check_contact(text.contact)
        if refused is not None:
            return refused
        hints = with_contact(hints, text.contact)
    attachments = check_files(secret, visitor, text.attachments)
    if attachments is None:
        return "attachments: not an upload of yours"
    return InboundMessage(
        channel_id=channel_id,
        external_user_id=visitor.visitor_id,
        # Scoped by visitor: one visitor's ids can never collide with another's.
        external_message_id=f"{visitor.visitor_id}:{text.client_msg_id}",
        client_msg_id=text.client_msg_id,
        text=text.text,
        attachments=attachments,
        client_name=(hints and hints.name) or f"Visitor {visitor.visitor_id[:6]}",
        # Every message carries them (the CRM's handling is idempotent): an identity that
        # arrives mid-dialog (``identify``) reaches the CRM with the next message.
        hints=hints or ClientHints(),
        echo=CAPABILITIES.echo,
    )
