"""Hostile posts to the Viber callback: the signature is checked on the raw body first, then
4xx naming what is wrong, never a 500."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
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
    post_raw,
)
from tests.support.viber_peer import ViberPeer

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
CONFIG = {"token": TOKEN, "sender_name": "Kettle shop support", "greeting": "Hi! Ask away."}
SIGNATURE = "X-Viber-Content-Signature"

PEOPLE = objects_with({"id": st.text(max_size=6) | HUGE_IDS, "name": st.text(max_size=6)})
CALLBACKS = st.one_of(
    RAW_TEXTS,
    objects_with(
        {
            "event": st.sampled_from(
                ["message", "delivered", "seen", "failed", "conversation_started", "subscribed"]
            ),
            "message_token": HUGE_IDS,
            "user_id": st.text(max_size=6),
            "sender": PEOPLE,
            "user": PEOPLE,
            "message": objects_with(
                {
                    "type": st.sampled_from(["text", "picture", "file", "location", "contact"]),
                    "text": st.text(max_size=10),
                    "media": JSON_VALUES,
                    "size": HUGE_IDS,
                    "location": JSON_VALUES,
                    "contact": JSON_VALUES,
                }
            ),
        }
    ).map(json.dumps),
)


def signed(raw: str | bytes) -> dict[str, str]:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return {SIGNATURE: hmac.new(TOKEN.encode(), data, hashlib.sha256).hexdigest()}


@pytest.fixture
async def webhook(start_hub: Any, redis_url: str, tmp_path: Path) -> AsyncIterator[str]:
    peer = ViberPeer(TOKEN)
    await peer.start()
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, viber_api_base=peer.base))
    await hub.add_channel("viber", "vb", CONFIG)
    yield f"{hub.base}/hooks/viber/vb"
    await peer.stop()


async def test_fuzzed_signed_callbacks_never_get_a_500(
    webhook: str, caplog: pytest.LogCaptureFixture
) -> None:
    statuses = [await post_raw(webhook, raw, signed(raw)) for raw in examples(CALLBACKS, 100)]
    assert all(status < 500 for status in statuses), statuses
    assert_no_tracebacks(caplog)


async def test_non_ascii_signature_header_is_a_403(webhook: str) -> None:
    raw = '{"event": "webhook"}'
    assert await post_raw(webhook, raw, {SIGNATURE: "é" * 64}) == 403
    assert await post_raw(webhook, nested(100_000), {SIGNATURE: "0" * 64}) == 403


async def test_wrong_types_in_fields_are_a_400_naming_the_field(webhook: str) -> None:
    for body in (
        {"event": "delivered", "message_token": 5, "sender": "x"},
        {"event": "message", "message_token": {"a": 1}},
        {"event": 5},
        {"event": "seen", "message_token": 2**64, "user_id": "u"},
    ):
        raw = json.dumps(body)
        assert await post_raw(webhook, raw, signed(raw)) == 400, body
    deep = nested(100_000)
    assert await post_raw(webhook, deep, signed(deep)) == 400
