"""Hostile posts to the VK callback: 4xx naming what is wrong, never a 500."""

from __future__ import annotations

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
from tests.support.vk_peer import VkPeer

TOKEN = "vk1.a.community-token-0123456789abcdef"
GROUP = 218340211
CALLBACK = {
    "group_id": GROUP,
    "token": TOKEN,
    "mode": "callback",
    "confirmation": "c0nf1rm42",
    "secret": "Sh0pSecret",
}

MESSAGES = objects_with(
    {
        "peer_id": HUGE_IDS,
        "from_id": HUGE_IDS,
        "date": HUGE_IDS,
        "conversation_message_id": HUGE_IDS,
        "text": st.text(max_size=10),
        "attachments": JSON_VALUES,
    }
)
EVENTS = st.one_of(
    RAW_TEXTS,
    objects_with(
        {
            "type": st.sampled_from(["message_new", "message_read", "confirmation"]),
            "group_id": st.just(GROUP) | HUGE_IDS,
            "secret": st.just("Sh0pSecret"),
            "event_id": st.text(max_size=8),
            "object": objects_with(
                {"message": MESSAGES, "peer_id": HUGE_IDS, "read_message_id": HUGE_IDS}
            ),
        }
    ).map(json.dumps),
)


@pytest.fixture
async def webhook(start_hub: Any, redis_url: str, tmp_path: Path) -> AsyncIterator[str]:
    peer = VkPeer(TOKEN, GROUP, secret="Sh0pSecret")
    await peer.start()
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, vk_api_base=peer.base))
    await hub.add_channel("vk", "club", CALLBACK)
    yield f"{hub.base}/hooks/vk/club"
    await peer.stop()


async def test_fuzzed_events_never_get_a_500(
    webhook: str, caplog: pytest.LogCaptureFixture
) -> None:
    statuses = [await post_raw(webhook, raw) for raw in examples(EVENTS, 100)]
    assert all(status < 500 for status in statuses), statuses
    assert_no_tracebacks(caplog)


async def test_nested_json_is_a_400_before_the_secret_is_looked_for(webhook: str) -> None:
    assert await post_raw(webhook, nested(100_000)) == 400
    deep = f'{{"type": "message_new", "group_id": {GROUP}, "object": {nested(5000)}}}'
    assert await post_raw(webhook, deep) == 400


async def test_wrong_secret_or_a_non_string_one_is_refused(webhook: str) -> None:
    event = {"type": "message_new", "group_id": GROUP, "object": {}}
    assert await post_raw(webhook, json.dumps(event | {"secret": "Sh0pSecret²"})) == 403
    assert await post_raw(webhook, json.dumps(event | {"secret": ["Sh0pSecret"]})) == 400
    assert await post_raw(webhook, json.dumps(event | {"group_id": 2**64})) == 400
