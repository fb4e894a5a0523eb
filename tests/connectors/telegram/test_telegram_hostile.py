"""Hostile posts to the Telegram webhook: 4xx naming what is wrong, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import strategies as st

from tests.support.admin import ADMIN_PASSWORD
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
from tests.support.hubclient import OperatorClient
from tests.support.telegram_peer import WEBHOOK, TelegramPeer

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SIGNED = {SECRET_HEADER: "s3cret-1"}

MESSAGES = objects_with(
    {
        "message_id": HUGE_IDS,
        "date": HUGE_IDS,
        "text": st.text(max_size=10),
        "chat": objects_with({"id": HUGE_IDS, "type": st.just("private")}),
        "from": objects_with(
            {"id": HUGE_IDS, "is_bot": st.booleans(), "first_name": st.text(max_size=5)}
        ),
    }
)
UPDATES = st.one_of(
    RAW_TEXTS,
    objects_with(
        {"update_id": HUGE_IDS | st.just(1e300), "message": MESSAGES, "edited_message": JSON_VALUES}
    ).map(json.dumps),
)


@pytest.fixture
async def webhook(start_hub: Any, peer: TelegramPeer, redis_url: str, tmp_path: Path) -> str:
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, telegram_api_base=peer.base))
    await hub.add_channel("telegram", "tg", WEBHOOK)
    return f"{hub.base}/hooks/telegram/tg"


async def test_fuzzed_updates_never_get_a_500(
    webhook: str, caplog: pytest.LogCaptureFixture
) -> None:
    statuses = [await post_raw(webhook, raw, SIGNED) for raw in examples(UPDATES, 100)]
    assert all(status < 500 for status in statuses), statuses
    assert_no_tracebacks(caplog)


async def test_update_id_1e400_is_a_400_naming_update_id(webhook: str) -> None:
    assert await post_raw(webhook, '{"update_id": 1e400}', SIGNED) == 400
    assert await post_raw(webhook, json.dumps({"update_id": 2**63}), SIGNED) == 400
    assert await post_raw(webhook, nested(100_000), SIGNED) == 400


async def test_a_body_over_a_megabyte_is_a_413_stated_or_streamed(webhook: str) -> None:
    big = json.dumps({"update_id": 1, "pad": "x" * (1024 * 1024)}).encode()
    assert await post_raw(webhook, big, SIGNED) == 413

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    # Without a Content-Length (chunked), the count of what arrived stops it.
    async with (
        aiohttp.ClientSession() as http,
        http.post(webhook, data=streamed(), headers=SIGNED) as resp,
    ):
        assert resp.status == 413


async def test_non_ascii_secret_header_is_a_mismatch(webhook: str) -> None:
    assert await post_raw(webhook, '{"update_id": 1}', {SECRET_HEADER: "s3cret-²"}) == 401


async def test_lone_surrogate_in_text_is_stored_and_shown(
    start_hub: Any,
    peer: TelegramPeer,
    redis_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path, telegram_api_base=peer.base))
    await hub.add_channel("telegram", "tg", WEBHOOK)
    admin = OperatorClient(hub.base)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.open_socket()
    user = {"id": 42, "is_bot": False, "first_name": "Ann"}
    raw = (
        '{"update_id": 7, "message": {"message_id": 1, "date": 1700000000, '
        '"chat": {"id": 42, "type": "private"}, "from": '
        + json.dumps(user)
        + ', "text": "half \\ud83d a pair"}}'
    )
    assert await post_raw(f"{hub.base}/hooks/telegram/tg", raw, SIGNED) == 200
    message = (await admin.receive_until("message"))["message"]
    assert message["text"] == "half \ufffd a pair"
    await admin.close()
    assert_no_tracebacks(caplog)
