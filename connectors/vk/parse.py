"""Pure parsing of VK community events (Callback API and Bots Long Poll share one shape) and of
a VK account's settings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.linked_files import LinkedFile
from connectors.webhook_body import WebhookHead
from core.envelope import MAX_TEXT, ClientHints
from core.limits import Id

API_VERSION = "5.199"
"""The VK API version we speak; vk_api's own default (5.92) predates the message object."""

# VK's photo size letters from small to large, for photos whose sizes lack width and height.
_SIZE_ORDER = "smxopqryzw"


class VkConfig(BaseModel):
    """A VK community account: its token and how events arrive.

    The account's line is the channel's own ``line_id``, not part of this config.
    """

    model_config = ConfigDict(extra="forbid")
    group_id: int = Field(gt=0)
    token: str = Field(min_length=20, max_length=512, pattern=r"^[A-Za-z0-9._-]+$")
    mode: Literal["callback", "longpoll"] = "callback"
    confirmation: str = Field(default="", pattern=r"^[A-Za-z0-9]{0,64}$")
    """The string VK expects as the answer to its ``confirmation`` request."""
    secret: str = Field(default="", pattern=r"^[A-Za-z0-9]{0,50}$")
    """The Callback API "secret key" VK puts in every event."""
    poll_wait: int = Field(default=25, ge=1, le=90)
    goodbye: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _callback_needs_codes(self) -> VkConfig:
        if self.mode == "callback" and not self.confirmation:
            raise ValueError("confirmation is required in callback mode")
        if self.mode == "callback" and not self.secret:
            raise ValueError("secret is required in callback mode")
        return self


@dataclass(frozen=True)
class VkInbound:
    """A user's message, before its files are downloaded."""

    peer_id: int
    message_id: str
    text: str
    files: tuple[LinkedFile, ...]
    hints: ClientHints
    sent_at: datetime


@dataclass(frozen=True)
class VkRead:
    """A ``message_read`` event: the user of ``peer_id`` read our messages up to
    ``read_message_id`` (the id ``messages.send`` answered for them)."""

    peer_id: int
    read_message_id: int


@dataclass(frozen=True)
class VkEdit:
    """A ``message_edit`` event: a user changed the text of a message they sent."""

    peer_id: int
    message_id: str
    text: str
    edited_at: datetime


@dataclass(frozen=True)
class Ignored:
    """An event that needs no action, and why."""

    reason: str


class EventHead(WebhookHead):
    """What the webhook reads of a callback event before queueing it."""

    type: str = Field(max_length=100)
    group_id: Id | str | None = None
    secret: str | None = None


def event_key(body: dict[str, Any]) -> str:
    """The dedupe key of an event: VK's ``event_id``, or a digest when an old API omits it."""
    event_id = body.get("event_id")
    if isinstance(event_id, str) and 0 < len(event_id) <= 200:
        return event_id
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return f"sha:{digest}"


def parse_event(body: Any, group_id: int) -> VkInbound | VkEdit | VkRead | Ignored:
    """Parse one event of community ``group_id``: a user's new or edited message, or a user
    having read our messages."""
    if not isinstance(body, dict):
        return Ignored("not a JSON object")
    kind = body.get("type")
    if kind == "message_read":
        return _read(body.get("object"))
    if kind == "message_reply":
        return Ignored("our own reply echoed back")  # never ingest what we sent
    if kind not in ("message_new", "message_edit"):
        return Ignored(f"event {kind!r} needs no message")
    obj = body.get("object")
    # message_new wraps the message with the client's capabilities; message_edit does not.
    message = obj.get("message", obj) if isinstance(obj, dict) else None
    if not isinstance(message, dict):
        return Ignored(f"{kind} without its message")
    try:
        peer_id, from_id = int(message["peer_id"]), int(message.get("from_id", 0))
        local_id = int(message["conversation_message_id"])
    except (KeyError, TypeError, ValueError):
        return Ignored("message without peer_id or conversation_message_id")
    if message.get("out") == 1 or from_id <= 0 or from_id == -group_id:
        return Ignored("not sent by a user")
    # conversation_message_id is unique within a conversation; a bot's global id is 0 in group
    # chats, so it cannot be the key.
    message_id = f"{peer_id}:{local_id}"
    text, files = _content(message)
    if kind == "message_edit":
        return VkEdit(peer_id, message_id, text, _moment(message.get("update_time")))
    if not text and not files:
        return Ignored("empty message")
    return VkInbound(
        peer_id=peer_id,
        message_id=message_id,
        text=text,
        files=tuple(files),
        hints=ClientHints(),
        sent_at=_moment(message.get("date")),
    )


def _content(message: dict[str, Any]) -> tuple[str, list[LinkedFile]]:
    """A message's text, with notes for what it carries that the hub cannot keep and for a
    place it shares, and its files."""
    text = str(message.get("text") or "")
    files: list[LinkedFile] = []
    for item in message.get("attachments") or []:
        ref, note = _attachment(item)
        if ref is not None:
            files.append(ref)
        elif note:
            text = f"{text}\n[{note}]".strip()
    geo = message.get("geo")
    if isinstance(geo, dict):
        coords = geo.get("coordinates") or {}
        where = f"Location: {float(coords.get('latitude', 0)):.6f}, "
        where += f"{float(coords.get('longitude', 0)):.6f}"
        title = (geo.get("place") or {}).get("title")
        text = f"{text}\n{where}{f' ({title})' if title else ''}".strip()
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return text, files


def _moment(stamp: Any) -> datetime:
    """A moment VK gives in Unix seconds, in UTC; now when it gives none."""
    try:
        return datetime.fromtimestamp(int(stamp), UTC) if stamp else datetime.now(UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _read(obj: Any) -> VkRead | Ignored:
    if not isinstance(obj, dict):
        return Ignored("message_read without an object")
    try:
        peer_id = int(obj.get("peer_id") or obj["from_id"])
        read_id = int(obj["read_message_id"])
    except (KeyError, TypeError, ValueError):
        return Ignored("message_read without peer_id or read_message_id")
    if peer_id <= 0 or read_id <= 0:
        return Ignored("message_read of no user message")
    return VkRead(peer_id, read_id)


def _attachment(item: Any) -> tuple[LinkedFile | None, str]:
    """A file to download, or a note for the text when the attachment cannot be kept."""
    if not isinstance(item, dict):
        return None, ""
    kind = str(item.get("type") or "")
    data = item.get(kind)
    if not isinstance(data, dict):
        return None, kind
    if kind == "photo":
        url = _largest(data.get("sizes") or [])
        return (LinkedFile(url, "image", "photo.jpg"), "") if url else (None, "photo")
    if kind == "doc" and data.get("url"):
        title = str(data.get("title") or "file")
        return LinkedFile(str(data["url"]), "file", title, int(data.get("size") or 0)), ""
    if kind == "audio_message":
        link = str(data.get("link_ogg") or data.get("link_mp3") or "")
        return (LinkedFile(link, "voice", "voice.ogg"), "") if link else (None, "voice message")
    if kind == "sticker":
        url = _largest(data.get("images") or [])
        return (LinkedFile(url, "sticker", "sticker.png"), "") if url else (None, "sticker")
    # Videos, wall posts, links and the like are only links to VK pages, not files to keep.
    return None, kind


def _largest(sizes: list[Any]) -> str:
    """The url of the biggest size; by area, then by VK's size letter when areas are unknown."""

    def rank(size: dict[str, Any]) -> tuple[int, int]:
        letter = str(size.get("type") or "")
        order = _SIZE_ORDER.find(letter) if len(letter) == 1 else -1
        return int(size.get("width") or 0) * int(size.get("height") or 0), order

    usable = [s for s in sizes if isinstance(s, dict) and s.get("url")]
    return str(max(usable, key=rank)["url"]) if usable else ""
