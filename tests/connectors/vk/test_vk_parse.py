"""VK events, settings and sends as pure data: captured-shape fixtures in, envelopes out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.vk.parse import (
    Ignored,
    VkConfig,
    VkEdit,
    VkInbound,
    VkRead,
    event_key,
    parse_event,
)
from connectors.vk.render import TEXT_LIMIT, as_photo, random_id, render
from core.envelope import Attachment, OutboundMessage

FIXTURES = Path(__file__).parents[3] / "connectors" / "vk" / "fixtures"
GROUP = 218340211


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return body


def inbound(name: str) -> VkInbound:
    parsed = parse_event(fixture(name), GROUP)
    assert isinstance(parsed, VkInbound), parsed
    return parsed


def test_text_message_is_keyed_by_conversation_and_local_id() -> None:
    parsed = inbound("message_new_text")
    assert parsed.peer_id == 51234567 and parsed.message_id == "51234567:11"
    assert parsed.text == "Здравствуйте! Где мой заказ?" and parsed.files == ()
    assert parsed.sent_at == datetime.fromisoformat("2024-11-23T02:46:51+00:00")


def test_photo_takes_the_largest_size_and_keeps_the_caption() -> None:
    parsed = inbound("message_new_photo")
    assert parsed.text == "сломанная крышка"
    [photo] = parsed.files
    assert photo.kind == "image" and photo.url.endswith("photo_z.jpg")


@pytest.mark.parametrize(
    ("name", "kind", "file_name", "ends"),
    [
        ("message_new_doc", "file", "invoice-2291.pdf", "dl=cd34"),
        ("message_new_audio_message", "voice", "voice.ogg", "voice.ogg"),
        ("message_new_sticker", "sticker", "sticker.png", "1-9012-512"),
    ],
)
def test_files_of_every_kind_are_found(name: str, kind: str, file_name: str, ends: str) -> None:
    [ref] = inbound(name).files
    assert (ref.kind, ref.name) == (kind, file_name) and ref.url.endswith(ends)


def test_geo_becomes_a_location_line() -> None:
    assert inbound("message_new_geo").text == (
        "я здесь\nLocation: 55.751244, 37.618423 (Москва, Россия)"
    )


@pytest.mark.parametrize(
    "name", ["message_reply", "message_allow", "message_event", "confirmation"]
)
def test_our_own_echo_and_service_events_are_not_ingested(name: str) -> None:
    assert isinstance(parse_event(fixture(name), GROUP), Ignored)


def test_a_message_from_the_community_itself_is_ignored() -> None:
    body = fixture("message_new_text")
    body["object"]["message"]["from_id"] = -GROUP
    assert isinstance(parse_event(body, GROUP), Ignored)


def test_event_id_is_the_dedupe_key() -> None:
    assert event_key(fixture("message_new_text")) == "0a9f6c1e2b3d4f5a6b7c8d9e0f1a2b3c4d5e6f70"
    without = fixture("message_new_text")
    del without["event_id"]
    assert event_key(without) == event_key(dict(without)) and event_key(without).startswith("sha:")


def test_config_names_the_missing_callback_codes() -> None:
    good = {
        "group_id": GROUP,
        "token": "vk1.a.abcdefghijklmnopqrstuvwxyz",
        "confirmation": "a1b2c3d4",
        "secret": "Sh0pSecret",
    }
    assert VkConfig.model_validate(good).mode == "callback"
    with pytest.raises(ValidationError, match="secret is required"):
        VkConfig.model_validate(good | {"secret": ""})
    assert (
        VkConfig.model_validate(
            {"group_id": GROUP, "token": good["token"], "mode": "longpoll"}
        ).poll_wait
        == 25
    )
    with pytest.raises(ValidationError, match="group_id"):
        VkConfig.model_validate(good | {"group_id": 0})


def outbound(message_id: int, text: str, **extra: Any) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        dialog_id=3,
        channel_id=1,
        external_user_id="51234567",
        author="operator",
        text=text,
        at=datetime.fromisoformat("2025-01-01T00:00:00+00:00"),
        **extra,
    )


KEY = b"k" * 32


def test_random_id_is_stable_distinct_within_int32_and_never_zero() -> None:
    assert random_id(KEY, 401, 0) == random_id(KEY, 401, 0)
    ids = {random_id(KEY, m, p) for m in range(1, 4000) for p in range(3)}
    assert len(ids) == 3999 * 3 and 0 not in ids and max(ids) < 2**31
    assert 0 < random_id(KEY, 2**31 - 1, 0) < 2**31  # the wrap never lands on 0


def test_a_second_installation_does_not_reuse_our_random_ids() -> None:
    # A fresh database numbers its messages from 1 again: with another key, the same
    # message ids must not give the same random_ids (VK would drop those sends).
    ours = {random_id(KEY, m, 0) for m in range(1, 3000)}
    theirs = {random_id(b"another installation", m, 0) for m in range(1, 3000)}
    assert len(ours & theirs) <= 1
    # Neighbouring messages are not neighbouring numbers (no overlap of two runs).
    assert abs(random_id(KEY, 2, 0) - random_id(KEY, 1, 0)) > 16


def test_long_text_is_split_at_9000_with_one_random_id_per_part() -> None:
    calls = render(outbound(7, "word " * 4000), KEY)
    assert [len(c.message) <= TEXT_LIMIT for c in calls] == [True, True, True]
    assert [c.random_id for c in calls] == [random_id(KEY, 7, p) for p in range(3)]
    assert {c.peer_id for c in calls} == {51234567}


def test_files_ride_on_the_first_part_ten_per_send() -> None:
    def file(n: int) -> Attachment:
        return Attachment(kind="file", url=f"/api/attachments/1/{n:064x}", name=f"f{n}.pdf")

    image = Attachment(
        kind="image", url="/api/attachments/1/" + "a" * 64, name="lid.jpg", mime="image/jpeg"
    )
    [call] = render(outbound(8, "see", attachments=(image,)), KEY)
    assert (call.message, call.files) == ("see", (image,))
    assert call.random_id == random_id(KEY, 8, 0)
    assert as_photo(image) and not as_photo(file(1))
    assert not as_photo(image.model_copy(update={"mime": "image/webp"}))  # a document then

    files = tuple(file(n) for n in range(12))
    calls = render(outbound(9, "word " * 2000, attachments=files), KEY)
    assert [(len(c.message) > 0, len(c.files)) for c in calls] == [
        (True, 10),
        (True, 0),
        (False, 2),
    ]
    assert [c.random_id for c in calls] == [random_id(KEY, 9, i) for i in range(3)]
    [alone] = render(outbound(10, "", attachments=(image,)), KEY)
    assert (alone.message, alone.files) == ("", (image,))
    assert render(outbound(11, ""), KEY) == []


def test_message_read_names_the_user_and_the_last_read_id() -> None:
    body = {
        "type": "message_read",
        "group_id": GROUP,
        "event_id": "e1",
        "v": "5.199",
        "object": {"from_id": 51234567, "peer_id": 51234567, "read_message_id": 7002},
    }
    assert parse_event(body, GROUP) == VkRead(51234567, 7002)
    body["object"] = {"peer_id": 51234567}
    assert isinstance(parse_event(body, GROUP), Ignored)


def test_an_edit_names_the_message_as_it_was_keyed_and_its_new_text() -> None:
    edit = parse_event(fixture("message_edit"), GROUP)
    assert edit == VkEdit(
        peer_id=51234567,
        message_id=inbound("message_new_text").message_id,
        text="Здравствуйте! Где мой заказ №2291?",
        edited_at=datetime.fromtimestamp(1732330077, UTC),
    )
    # The community's own messages edited (an operator's, in VK's own interface) are not ours.
    ours = fixture("message_edit")
    ours["object"]["from_id"] = -GROUP
    assert parse_event(ours, GROUP) == Ignored("not sent by a user")
    broken = fixture("message_edit")
    del broken["object"]["conversation_message_id"]
    assert isinstance(parse_event(broken, GROUP), Ignored)
