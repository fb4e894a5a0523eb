"""Pure parsing of Telegram Bot API updates (and of a Telegram account's settings)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.webhook_body import WebhookHead
from core.envelope import MAX_TEXT, ClientHints
from core.limits import Id

if TYPE_CHECKING:
    from aiogram.types import Message

TOKEN = r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$"
SECRET = r"^[A-Za-z0-9_-]{1,256}$"


class TelegramConfig(BaseModel):
    """A Telegram bot account: its token and how updates arrive."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(pattern=TOKEN)
    mode: Literal["webhook", "polling"] = "webhook"
    webhook_secret: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,256}$")
    poll_timeout: int = Field(default=25, ge=0, le=50)
    goodbye: str = Field(default="", max_length=4096)

    @model_validator(mode="after")
    def _secret_for_webhook(self) -> TelegramConfig:
        # The hub hands the secret to Telegram itself (setWebhook's secret_token), so an admin
        # need not invent one: a webhook bot without one gets a random one, kept from then on.
        if self.mode == "webhook" and not self.webhook_secret:
            self.webhook_secret = secrets.token_urlsafe(32)
        return self


class UpdateHead(WebhookHead):
    """What the webhook reads of an update: its id, the key that drops a repeat."""

    update_id: Id


@dataclass(frozen=True)
class FileRef:
    """A file to fetch with getFile."""

    file_id: str
    kind: Literal["image", "file", "voice", "sticker", "video"]
    name: str = ""
    mime: str = ""
    size: int = 0


@dataclass(frozen=True)
class TelegramInbound:
    """A client's message, before its files are downloaded."""

    chat_id: int
    message_id: str
    text: str
    name: str
    files: tuple[FileRef, ...]
    hints: ClientHints
    sent_at: datetime


@dataclass(frozen=True)
class TelegramEdit:
    """A client changed the text (or caption) of a message they sent."""

    chat_id: int
    message_id: str
    text: str
    edited_at: datetime


@dataclass(frozen=True)
class Ignored:
    """An update we take no action on, and why."""

    reason: str


def parse_update(body: Any) -> TelegramInbound | TelegramEdit | Ignored:
    """Parse one update object; anything but a new or edited message is ignored with a
    reason."""
    # aiogram's types take seconds to import: only a hub with a Telegram channel pays for them.
    from aiogram.types import Update

    try:
        update = Update.model_validate(body)
    except ValidationError as exc:
        return Ignored(f"malformed update: {exc.errors()[0]['msg']}")
    edited = update.edited_message
    if edited is not None:
        if edited.from_user is not None and edited.from_user.is_bot:
            return Ignored("edited by a bot")
        text = edited.text or edited.caption or ""
        return TelegramEdit(
            chat_id=edited.chat.id,
            message_id=f"{edited.chat.id}:{edited.message_id}",
            text=text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…",
            edited_at=_utc(edited.edit_date),
        )
    message = update.message
    if message is None:
        return Ignored("not a new or edited message")
    if message.from_user is not None and message.from_user.is_bot:
        return Ignored("sent by a bot")
    return _message(message)


def _message(message: Message) -> TelegramInbound:
    sender = message.from_user
    name = ""
    if sender is not None:
        name = " ".join(p for p in (sender.first_name, sender.last_name) if p)
    elif message.chat.title:
        name = message.chat.title
    text = message.text or message.caption or ""
    files: list[FileRef] = []
    hints = ClientHints(name=name[:255])
    if message.photo:
        biggest = max(message.photo, key=lambda p: p.width * p.height)
        files.append(
            FileRef(biggest.file_id, "image", "photo.jpg", "image/jpeg", biggest.file_size or 0)
        )
    if message.document:
        d = message.document
        files.append(
            FileRef(d.file_id, "file", d.file_name or "file", d.mime_type or "", d.file_size or 0)
        )
    if message.voice:
        v = message.voice
        files.append(
            FileRef(v.file_id, "voice", "voice.ogg", v.mime_type or "audio/ogg", v.file_size or 0)
        )
    if message.audio:
        a = message.audio
        files.append(
            FileRef(a.file_id, "file", a.file_name or "audio", a.mime_type or "", a.file_size or 0)
        )
    if message.video:
        v2 = message.video
        files.append(
            FileRef(
                v2.file_id,
                "video",
                v2.file_name or "video.mp4",
                v2.mime_type or "",
                v2.file_size or 0,
            )
        )
    if message.sticker:
        s = message.sticker
        mime = (
            "video/webm"
            if s.is_video
            else ("application/x-tgsticker" if s.is_animated else "image/webp")
        )
        files.append(
            FileRef(
                s.file_id, "sticker", f"sticker {s.emoji or ''}".strip(), mime, s.file_size or 0
            )
        )
        text = text or (s.emoji or "")
    if message.contact:
        c = message.contact
        full = " ".join(p for p in (c.first_name, c.last_name) if p)
        text = text or f"Contact: {full} {c.phone_number}".strip()
        # Telegram vouches for the number only when the contact is the sender's own account
        # (the "share my phone" button); anyone can type someone else's card.
        own = sender is not None and c.user_id is not None and c.user_id == sender.id
        hints = ClientHints(name=name[:255], phone=c.phone_number[:64], phone_verified=own)
    if message.location:
        loc = message.location
        text = text or f"Location: {loc.latitude:.6f}, {loc.longitude:.6f}"
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return TelegramInbound(
        chat_id=message.chat.id,
        message_id=f"{message.chat.id}:{message.message_id}",
        text=text,
        name=name,
        files=tuple(files),
        hints=hints,
        sent_at=_utc(message.date),
    )


def _utc(moment: datetime | int | None) -> datetime:
    """A moment of an update (aiogram gives dates; an edit's may be missing) in UTC."""
    if isinstance(moment, datetime):
        return moment.astimezone(UTC)
    if isinstance(moment, int):
        return datetime.fromtimestamp(moment, UTC)
    return datetime.now(UTC)
