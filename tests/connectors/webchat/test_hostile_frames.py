"""Hostile frames on the widget socket: each gets an error frame, and the socket stays open."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from tests.support.connector_hub import Hub, make_settings
from tests.support.fuzzing import (
    HUGE_IDS,
    JSON_VALUES,
    RAW_TEXTS,
    assert_no_tracebacks,
    examples,
    nested,
    objects_with,
)
from tests.support.hubclient import VisitorClient

FRAMES = st.one_of(
    RAW_TEXTS,
    objects_with(
        {
            "type": st.sampled_from(["hello", "message", "rate", "identify", "typing"]),
            "token": st.text(max_size=10) | st.just("v1.x.².sig"),
            "after": HUGE_IDS,
            "dialog_id": HUGE_IDS,
            "value": HUGE_IDS,
            "client_msg_id": st.just("c1"),
            "text": st.text(max_size=10),
            "identity": JSON_VALUES,
        }
    ).map(json.dumps),
)


@pytest.fixture
async def hub(start_hub: Any, redis_url: str, tmp_path: Path) -> Hub:
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path))
    return hub


@pytest.fixture
async def visitor(hub: Hub) -> Any:
    client = VisitorClient(hub.base)
    assert (await client.connect())["type"] == "welcome"
    yield client
    await client.close()


async def answer_to(visitor: VisitorClient, frame: str) -> list[dict[str, Any]]:
    """What the socket says after ``frame``, up to the pong of a ping sent behind it."""
    await visitor.send_raw(frame)
    await visitor.send_raw('{"type": "ping"}')
    said: list[dict[str, Any]] = []
    while (reply := await visitor.receive(timeout=10))["type"] != "pong":
        said.append(reply)
    return said


async def assert_refused(visitor: VisitorClient, frame: str, code: str) -> None:
    said = await answer_to(visitor, frame)
    assert [f["code"] for f in said if f["type"] == "error"] == [code], said


async def test_fuzzed_frames_get_answers_and_never_close_the_socket(
    visitor: VisitorClient, caplog: pytest.LogCaptureFixture
) -> None:
    frames = examples(FRAMES, 100)
    for frame in frames:
        await answer_to(visitor, frame)  # raises when the socket closed
    assert_no_tracebacks(caplog)


async def test_deeply_nested_json_is_an_error_frame(visitor: VisitorClient) -> None:
    await assert_refused(visitor, nested(3000), "bad_json")
    await assert_refused(visitor, '{"type": "hello", "identity": ' + nested(2000) + "}", "bad_json")


async def test_rate_with_an_id_past_64_bits_is_an_error_frame(visitor: VisitorClient) -> None:
    await assert_refused(
        visitor, json.dumps({"type": "rate", "dialog_id": 2**63, "value": 5}), "bad_frame"
    )


async def test_token_with_a_non_ascii_digit_is_an_error_frame(hub: Hub) -> None:
    client = VisitorClient(hub.base)
    try:
        assert (await client.connect())["type"] == "welcome"
        version, visitor_id, _channel, mac = (client.token or "").split(".")
        await client.close()
        again = VisitorClient(hub.base)
        answer = await again.connect(token=f"{version}.{visitor_id}.².{mac}")
        assert answer["type"] == "error" and answer["code"] == "bad_token"
        # Still open: a hello without the token starts over.
        assert (await answer_to(again, '{"type": "hello"}'))[0]["type"] == "welcome"
        await again.close()
    finally:
        await client.close()


async def test_hello_after_past_64_bits_is_an_error_frame(hub: Hub) -> None:
    client = VisitorClient(hub.base)
    try:
        answer = await client.connect(after=2**63)
        assert answer["type"] == "error" and answer["code"] == "bad_frame"
        assert "after" in answer["reason"]
        assert (await answer_to(client, '{"type": "hello"}'))[0]["type"] == "welcome"
    finally:
        await client.close()
