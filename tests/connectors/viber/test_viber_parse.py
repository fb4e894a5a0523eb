"""Parsing of Viber callbacks, on the samples of Viber's REST bot API documentation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from viberbot import Api, BotConfiguration

from connectors.viber.parse import (
    CallbackHead,
    Ignored,
    ViberInbound,
    ViberReceipt,
    dedupe_id,
    parse_callback,
    signature_ok,
)
from connectors.viber.render import render, sender
from core.envelope import OutboundMessage, utcnow

FIXTURES = Path(__file__).parents[3] / "connectors" / "viber" / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_text_picture_and_contact_messages() -> None:
    text = parse_callback(load("message_text"))
    assert isinstance(text, ViberInbound)
    assert (text.user_id, text.message_id, text.text) == (
        "01234567890A=",
        "4912661846655238145",
        "a message to the service",
    )
    picture = parse_callback(load("message_picture"))
    assert isinstance(picture, ViberInbound) and picture.media[0].kind == "image"
    contact = parse_callback(load("message_contact"))
    assert isinstance(contact, ViberInbound)
    assert contact.hints.phone == "+972511123123" and not contact.hints.phone_verified


def test_receipts_and_other_events() -> None:
    for name, status in (("delivered", "delivered"), ("seen", "seen"), ("failed", "failed")):
        receipt = parse_callback(load(name))
        assert isinstance(receipt, ViberReceipt) and receipt.status == status
    assert parse_callback(load("failed")).error == "failure description"  # type: ignore[union-attr]
    assert isinstance(parse_callback(load("conversation_started")), Ignored)
    # Receipts reuse the token of our message: the event is part of the dedupe key.
    delivered, seen = (CallbackHead.model_validate(load(n)) for n in ("delivered", "seen"))
    assert dedupe_id(delivered) != dedupe_id(seen)


def test_our_signature_check_agrees_with_the_official_sdk() -> None:
    token = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
    raw = json.dumps(load("message_text")).encode()
    sdk = Api(BotConfiguration(auth_token=token, name="Shop", avatar=""))
    good = sdk._calculate_message_signature(raw)
    assert signature_ok(token, raw, good)
    assert sdk.verify_signature(raw, good)
    assert not signature_ok(token, raw + b" ", good)
    assert not signature_ok("another-token-0000", raw, good)


def test_render_splits_at_7000_and_cuts_the_sender_name_to_28() -> None:
    message = OutboundMessage(
        message_id=1,
        dialog_id=2,
        channel_id=3,
        external_user_id="u=",
        author="operator",
        text="word " * 3000,
        at=utcnow(),
    )
    bodies = render(message, "A very long support team name here")
    assert len(bodies) == 3 and all(len(b["text"]) <= 7000 for b in bodies)
    assert bodies[0]["sender"]["name"] == "A very long support team nam"
    assert len(sender("x" * 40)["name"]) == 28
