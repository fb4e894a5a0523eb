"""A 20 000-character reply, split by each channel at its own limit: Telegram 4096, Viber 7000,
VK 9000; every part within the limit and nothing of the text lost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.registry import KINDS
from connectors.telegram.render import render as telegram_render
from connectors.viber.render import render as viber_render
from connectors.vk.render import render as vk_render
from core.envelope import MAX_REPLY_TEXT, OutboundMessage

REPLY = "".join(f"слово{i:05d} " for i in range(2000))[:MAX_REPLY_TEXT]


def _outbound() -> OutboundMessage:
    return OutboundMessage(
        message_id=9,
        dialog_id=3,
        channel_id=1,
        external_user_id="42",
        author="operator",
        text=REPLY,
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _texts(kind: str) -> list[str]:
    if kind == "telegram":
        return [call.text for call in telegram_render(_outbound())]
    if kind == "viber":
        return [body["text"] for body in viber_render(_outbound(), "Shop")]
    return [send.message for send in vk_render(_outbound(), b"installation key")]


@pytest.mark.parametrize(
    ("kind", "limit", "parts"), [("telegram", 4096, 5), ("viber", 7000, 3), ("vk", 9000, 3)]
)
def test_each_channel_splits_a_long_reply_at_its_own_limit(
    kind: str, limit: int, parts: int
) -> None:
    assert len(REPLY) == 20_000
    texts = _texts(kind)
    assert KINDS[kind].capabilities.max_text == limit
    assert len(texts) == parts and all(len(t) <= limit for t in texts)
    assert " ".join(texts) == REPLY.strip()


def test_web_chat_and_email_never_split() -> None:
    assert KINDS["webchat"].capabilities.max_text is None
    assert KINDS["email"].capabilities.max_text is None
