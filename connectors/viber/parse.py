"""Pure parsing of Viber REST bot API callbacks (and of a Viber account's settings)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from connectors.linked_files import LinkedFile
from connectors.outbound import Status
from connectors.webhook_body import WebhookHead
from core.envelope import MAX_TEXT, ClientHints
from core.limits import Id, signature_matches

SENDER_NAME_MAX = 28


class ViberConfig(BaseModel):
    """A Viber bot account."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=10, max_length=200, pattern=r"^[A-Za-z0-9-]+$")
    sender_name: str = Field(min_length=1, max_length=SENDER_NAME_MAX)
    sender_avatar: str = Field(default="", max_length=500)
    greeting: str = Field(default="", max_length=7000)
    goodbye: str = Field(default="", max_length=7000)


def signature_ok(token: str, body: bytes, signature: str) -> bool:
    """X-Viber-Content-Signature: hex HMAC-SHA256 of the raw body keyed with the auth token."""
    expected = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return signature_matches(expected, signature.strip().lower())


@dataclass(frozen=True)
class ViberInbound:
    """A user's message."""

    user_id: str
    message_id: str
    text: str
    name: str
    media: tuple[LinkedFile, ...]
    hints: ClientHints


@dataclass(frozen=True)
class ViberReceipt:
    """delivered / seen / failed for one of our messages."""

    message_token: str
    status: Status
    error: str | None


@dataclass(frozen=True)
class Ignored:
    """A callback that needs no action, and why."""

    reason: str


_Short = Annotated[str, Field(max_length=200)]


class _User(WebhookHead):
    id: _Short | Id = ""


class CallbackHead(WebhookHead):
    """What the webhook reads of a callback: what the event is, and what makes it unique."""

    event: str = Field(max_length=100)
    message_token: Id | _Short | None = None
    user_id: _Short | None = None
    sender: _User | None = None
    user: _User | None = None


def dedupe_id(head: CallbackHead) -> str | None:
    """(event, message_token, user id): receipts reuse our message's token, so the token alone
    is not unique across events."""
    if head.message_token is None:
        return None
    user = head.user_id or (head.sender and head.sender.id) or (head.user and head.user.id) or ""
    return f"{head.event}:{head.message_token}:{user}"


def parse_callback(body: Any) -> ViberInbound | ViberReceipt | Ignored:
    """Parse one callback body."""
    if not isinstance(body, dict):
        return Ignored("not a JSON object")
    event = body.get("event")
    if event in ("delivered", "seen", "failed"):
        token = body.get("message_token")
        if token is None:
            return Ignored("receipt without message_token")
        status: Status = "failed" if event == "failed" else event
        return ViberReceipt(str(token), status, str(body.get("desc") or "") or None)
    if event != "message":
        return Ignored(f"event {event!r} needs no message")
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, dict) or not isinstance(message, dict) or not sender.get("id"):
        return Ignored("message without sender.id or message")
    name = str(sender.get("name") or "")[:255]
    kind = message.get("type")
    text = str(message.get("text") or "")
    media: list[LinkedFile] = []
    hints = ClientHints(name=name)
    url = str(message.get("media") or "")
    if kind == "picture" and url:
        media.append(LinkedFile(url, "image", "picture.jpg", int(message.get("size") or 0)))
    elif kind == "video" and url:
        media.append(LinkedFile(url, "video", "video.mp4", int(message.get("size") or 0)))
    elif kind == "file" and url:
        file_name = str(message.get("file_name") or "file")
        media.append(LinkedFile(url, "file", file_name, int(message.get("size") or 0)))
    elif kind == "sticker" and url:
        media.append(LinkedFile(url, "sticker", "sticker.png"))
    elif kind == "contact":
        contact = message.get("contact") or {}
        phone = str(contact.get("phone_number") or "")[:64] or None
        text = text or f"Contact: {contact.get('name', '')} {phone or ''}".strip()
        # Viber never says whose number it is, so it is never verified.
        hints = ClientHints(name=name, phone=phone, phone_verified=False)
    elif kind == "location":
        loc = message.get("location") or {}
        text = text or f"Location: {float(loc.get('lat', 0)):.6f}, {float(loc.get('lon', 0)):.6f}"
    elif kind == "url":
        text = text or str(message.get("media") or "")
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    if not text and not media:
        return Ignored(f"empty {kind} message")
    return ViberInbound(
        user_id=str(sender["id"]),
        message_id=str(body.get("message_token")),
        text=text,
        name=name,
        media=tuple(media),
        hints=hints,
    )
