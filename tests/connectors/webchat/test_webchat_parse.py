"""The visitor socket's frames and tokens, on plain data."""

from __future__ import annotations

import pytest

from connectors.webchat.parse import (
    ContactDetails,
    FrameError,
    Hello,
    Ping,
    Typing,
    VisitorText,
    check_contact,
    parse_frame,
)
from connectors.webchat.token import check_token, issue_token
from core.streams import shard_of

SECRET = b"k" * 32


def test_well_formed_frames_parse() -> None:
    assert parse_frame('{"type": "hello"}') == Hello(type="hello")
    assert parse_frame('{"type": "hello", "token": "t", "after": 5}') == Hello(
        type="hello", token="t", after=5
    )
    assert parse_frame(
        '{"type": "message", "client_msg_id": "a-1_B", "text": "hi"}'
    ) == VisitorText(type="message", client_msg_id="a-1_B", text="hi")
    assert parse_frame('{"type": "typing"}') == Typing(type="typing")
    assert parse_frame('{"type": "ping"}') == Ping(type="ping")


@pytest.mark.parametrize(
    ("raw", "code", "reason_starts", "cid"),
    [
        ("{", "bad_json", "not JSON", None),
        ("42", "bad_frame", "a frame is a JSON object", None),
        ('{"type": "nope"}', "bad_frame", "unknown frame type 'nope'", None),
        ('{"text": "no type"}', "bad_frame", "", None),
        (
            '{"type": "message", "client_msg_id": "x", "text": "a", "extra": 1}',
            "bad_frame",
            "message.extra",
            "x",
        ),
        (
            '{"type": "message", "client_msg_id": "x y", "text": "a"}',
            "bad_frame",
            "message.client_msg_id",
            None,
        ),
        # Empty text is only for a message of files.
        (
            '{"type": "message", "client_msg_id": "m1", "text": ""}',
            "bad_frame",
            "text: empty message",
            "m1",
        ),
        (
            '{"type": "message", "client_msg_id": "m3", "text": "", "attachments": [{}]}',
            "bad_frame",
            "message.attachments.0.kind",
            "m3",
        ),
        (
            '{"type": "message", "client_msg_id": "m2", "text": " \\n "}',
            "bad_frame",
            "text: empty message",
            "m2",
        ),
        ('{"type": "hello", "after": -1}', "bad_frame", "hello.after", None),
    ],
)
def test_bad_frames_name_what_is_wrong(
    raw: str, code: str, reason_starts: str, cid: str | None
) -> None:
    error = parse_frame(raw)
    assert isinstance(error, FrameError)
    assert error.code == code
    assert error.reason.startswith(reason_starts)
    assert error.client_msg_id == cid


def test_text_over_the_limit_is_too_long_but_the_limit_itself_is_fine() -> None:
    ok = parse_frame('{"type": "message", "client_msg_id": "a", "text": "' + "я" * 4000 + '"}')
    assert isinstance(ok, VisitorText)
    error = parse_frame('{"type": "message", "client_msg_id": "a", "text": "' + "я" * 4001 + '"}')
    assert error == FrameError("too_long", "text is 4001 characters; the limit is 4000", "a")


def test_a_token_opens_only_its_own_visitor_on_its_own_channel() -> None:
    token, visitor = issue_token(SECRET, channel_id=3)
    assert check_token(SECRET, token, 3) == visitor
    assert check_token(SECRET, token, 4) is None  # another channel
    assert check_token(b"other" * 8, token, 3) is None  # another hub's key
    version, vid, channel, sig = token.split(".")
    assert check_token(SECRET, f"{version}.{vid}x.{channel}.{sig}", 3) is None  # forged id
    flipped = sig[:-1] + ("B" if sig.endswith("A") else "A")
    assert check_token(SECRET, f"{version}.{vid}.{channel}.{flipped}", 3) is None
    assert check_token(SECRET, "", 3) is None
    assert check_token(SECRET, "v1..3.x", 3) is None
    other, _ = issue_token(SECRET, channel_id=3)
    assert other != token  # every visitor gets a fresh random id


def test_one_client_always_lands_on_one_shard() -> None:
    shards = {shard_of(1, f"user-{n}", 8) for n in range(200)}
    assert shards == set(range(8))  # spread over all shards
    assert all(shard_of(1, "user-7", 8) == shard_of(1, "user-7", 8) for _ in range(3))


def test_a_forms_phone_must_exist_in_its_countrys_plan() -> None:
    assert check_contact(ContactDetails(phone="+44 20 7946 0958")) is None
    assert check_contact(ContactDetails(email="a@b.example")) is None
    for wrong in ("+1 555 0000", "020 7946 0958", "call me"):
        reason = check_contact(ContactDetails(phone=wrong))
        assert reason is not None and reason.startswith("contact.phone:")
    refused = parse_frame(
        '{"type": "message", "client_msg_id": "c1", "text": "hi", "contact": {"email": "x"}}'
    )
    assert isinstance(refused, FrameError) and refused.reason.startswith("message.contact.email")
