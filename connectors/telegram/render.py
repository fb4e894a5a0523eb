"""Pure rendering of our outbound messages into Telegram Bot API calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from connectors.textsplit import split_text
from core.envelope import OutboundMessage

TEXT_LIMIT = 4096
"""sendMessage's text limit, in characters."""


@dataclass(frozen=True)
class TelegramCall:
    """One Bot API call: a text part, or a stored file to upload as a photo or document."""

    method: Literal["sendMessage", "sendPhoto", "sendDocument"]
    text: str = ""
    attachment_url: str = ""
    name: str = ""


def render(message: OutboundMessage) -> list[TelegramCall]:
    """The calls that deliver ``message``: its text in parts, then each attachment."""
    calls = [
        TelegramCall("sendMessage", text=part) for part in split_text(message.text, TEXT_LIMIT)
    ]
    for att in message.attachments:
        method: Literal["sendPhoto", "sendDocument"] = (
            "sendPhoto" if att.kind == "image" else "sendDocument"
        )
        calls.append(TelegramCall(method, attachment_url=att.url, name=att.name or "file"))
    return calls
