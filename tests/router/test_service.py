"""The router's ordering key: a client's inbound messages are kept in order across retries."""

from __future__ import annotations

from core import streams
from core.envelope import CloseDialog, InboundMessage
from router.worker import client_of


def test_an_inbound_message_is_ordered_by_the_client_key_that_also_picks_its_shard() -> None:
    message = InboundMessage(channel_id=3, external_user_id="u7", external_message_id="m1")
    assert client_of(message) == streams.client_key(3, "u7") == "3:u7"
    same_client = InboundMessage(channel_id=3, external_user_id="u7", external_message_id="m2")
    assert client_of(same_client) == client_of(message)
    other_channel = InboundMessage(channel_id=4, external_user_id="u7", external_message_id="m3")
    assert client_of(other_channel) != client_of(message)


def test_a_command_holds_back_nothing() -> None:
    assert client_of(CloseDialog(dialog_id=1)) is None
