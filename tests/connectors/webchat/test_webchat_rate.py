"""The web chat's rating frame: parsed when well-formed, refused naming the field otherwise."""

from __future__ import annotations

import json

from connectors.webchat.parse import FrameError, Rate, parse_frame


def test_a_star_rating_is_parsed() -> None:
    frame = parse_frame(json.dumps({"type": "rate", "dialog_id": 7, "value": 5}))
    assert frame == Rate(type="rate", dialog_id=7, value=5)


def test_a_rating_outside_one_to_five_is_refused_naming_the_value() -> None:
    frame = parse_frame(json.dumps({"type": "rate", "dialog_id": 7, "value": 6}))
    assert isinstance(frame, FrameError) and frame.reason.startswith("rate.value:")


def test_a_rating_without_its_dialog_is_refused() -> None:
    frame = parse_frame(json.dumps({"type": "rate", "value": 1}))
    assert isinstance(frame, FrameError) and frame.reason.startswith("rate.dialog_id:")


def test_a_rating_carries_an_optional_comment_of_at_most_1000_characters() -> None:
    frame = parse_frame(json.dumps({"type": "rate", "dialog_id": 7, "value": 4, "comment": "ok"}))
    assert frame == Rate(type="rate", dialog_id=7, value=4, comment="ok")
    long = json.dumps({"type": "rate", "dialog_id": 7, "value": 4, "comment": "x" * 1001})
    refused = parse_frame(long)
    assert isinstance(refused, FrameError) and refused.reason.startswith("rate.comment:")
