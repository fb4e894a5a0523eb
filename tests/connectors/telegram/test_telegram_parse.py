"""Parsing of Telegram updates, on payloads shaped as the Bot API documents them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.telegram.parse import (
    Ignored,
    TelegramConfig,
    TelegramEdit,
    TelegramInbound,
    parse_update,
)
from connectors.textsplit import split_text

FIXTURES = Path(__file__).parents[3] / "connectors" / "telegram" / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def parsed(name: str) -> TelegramInbound:
    result = parse_update(load(name))
    assert isinstance(result, TelegramInbound), result
    return result


def test_text_message_keys_on_chat_and_message_id() -> None:
    msg = parsed("text")
    assert msg.chat_id == 1111111 and msg.message_id == "1111111:1365"
    assert msg.text == "/start" and msg.name == "Test Firstname Test Lastname"
    assert msg.files == () and msg.hints.phone is None


def test_photo_takes_the_biggest_size_and_the_caption() -> None:
    msg = parsed("photo")
    assert msg.text == "the broken lid"
    assert [(f.file_id, f.kind) for f in msg.files] == [("AgACAgIAAxkBAAIBbig", "image")]


def test_document_voice_and_sticker_become_files() -> None:
    doc = parsed("document").files[0]
    assert (doc.kind, doc.name, doc.mime) == ("file", "invoice.pdf", "application/pdf")
    assert parsed("voice").files[0].kind == "voice"
    sticker = parsed("sticker")
    assert sticker.files[0].kind == "sticker" and sticker.text == "😀"


def test_own_contact_is_a_verified_phone_and_someone_elses_is_not() -> None:
    own = parsed("contact_own")
    assert own.hints.phone == "+79161234567" and own.hints.phone_verified
    other = parsed("contact_other")
    assert other.hints.phone == "+74951112233" and not other.hints.phone_verified
    assert "Anna Petrova" in other.text


def test_location_is_text() -> None:
    assert parsed("location").text == "Location: 55.755826, 37.617300"


def test_an_edit_names_the_message_and_its_new_text() -> None:
    edit = parse_update(load("edited"))
    assert edit == TelegramEdit(
        chat_id=1111111,
        message_id="1111111:1365",  # as the message itself was named
        text="Edited text",
        edited_at=datetime(2015, 9, 7, 17, 23, 20, tzinfo=UTC),  # edit_date, not date
    )
    caption = load("edited")
    del caption["edited_message"]["text"]
    caption["edited_message"]["caption"] = "A new caption"
    assert isinstance(edit := parse_update(caption), TelegramEdit)
    assert edit.text == "A new caption"
    by_bot = load("edited")
    by_bot["edited_message"]["from"]["is_bot"] = True
    assert parse_update(by_bot) == Ignored("edited by a bot")


def test_garbage_is_ignored_with_a_reason() -> None:
    bad = parse_update({"update_id": "x"})
    assert isinstance(bad, Ignored) and "malformed" in bad.reason


def test_split_on_word_boundary_within_the_limit() -> None:
    text = ("word " * 2000).strip()
    parts = split_text(text, 4096)
    assert all(len(p) <= 4096 for p in parts) and " ".join(parts) == text
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in parts)
    assert split_text("x" * 10, 4) == ["xxxx", "xxxx", "xx"]


def test_a_webhook_bot_without_a_secret_gets_a_random_one() -> None:
    token = "123456:" + "A" * 35
    assert TelegramConfig(token=token, mode="polling").webhook_secret == ""
    first, second = TelegramConfig(token=token), TelegramConfig(token=token)
    assert len(first.webhook_secret) >= 32 and first.webhook_secret != second.webhook_secret
    # What setWebhook's secret_token takes: 1-256 of A-Z a-z 0-9 _ -.
    assert all(c.isalnum() or c in "_-" for c in first.webhook_secret)
    given = TelegramConfig(token=token, webhook_secret="mine-1")
    assert given.webhook_secret == "mine-1"
