"""One entry of ``events`` per stored message: the console's ``MessageEvent`` is also what the
integrations read their ``message.created`` from, and a dialog's lifecycle event rides on the
``DialogEvent`` of the same change; the integrations still hear every event, once, in the
order the router emitted them, with the bodies they always had."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import redis.asyncio
from sqlalchemy import select

from core import streams
from core.bus import Bus, Delivery
from core.db import SessionMaker
from core.db.schema import Dialog, Message
from core.envelope import (
    CloseDialog,
    DialogEvent,
    Envelope,
    HiddenNote,
    InboundMessage,
    IntegrationEvent,
    MessageEvent,
    OperatorReply,
    PresenceChange,
    RateDialog,
    decode,
)
from core.integration_events import carried, dialog_event, integration_event
from operator_console.live import event_frame
from router.worker import Router
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.router_db import command, demo_ids, seeded_database

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]

CLOCK = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@dataclass
class Talk:
    """A dialog's whole life through the router on a real Redis: the client's first message,
    the operator's reply and a hidden note, the close, the client's rating."""

    sessions: SessionMaker
    entries: list[tuple[str, Envelope]]


async def _events(client: redis.asyncio.Redis) -> list[tuple[str, Envelope]]:
    raw = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(streams.EVENTS))
    return [(entry_id.decode(), decode(data[b"data"])) for entry_id, data in raw]


@pytest.fixture
async def talk(db_url: str, redis_url: str) -> AsyncIterator[Talk]:
    engine, sessions = await seeded_database(db_url)
    channel_id, admin_id = await demo_ids(sessions)
    client = redis.asyncio.Redis.from_url(redis_url)
    router = Router(sessions, Bus(client), lambda: CLOCK)
    try:
        await router.handle([command(PresenceChange(operator_id=admin_id, status="online"))])
        hello = InboundMessage(
            channel_id=channel_id, external_user_id="v", external_message_id="m-1", text="hi"
        )
        await router.handle([Delivery(streams.inbound(0), "0-1", hello)])
        async with sessions() as session:
            dialog_id = await session.scalar(select(Dialog.id))
        assert dialog_id is not None
        await router.handle(
            [
                command(OperatorReply(dialog_id=dialog_id, operator_id=admin_id,
                                      client_msg_id="r1", text="hello, how can I help?")),
                command(HiddenNote(dialog_id=dialog_id, operator_id=admin_id,
                                   client_msg_id="n1", text="a regular")),
            ]
        )  # fmt: skip
        await router.handle([command(CloseDialog(dialog_id=dialog_id, operator_id=admin_id))])
        await router.handle([command(RateDialog(dialog_id=dialog_id, rating=5))])
        yield Talk(sessions, await _events(client))
    finally:
        await client.aclose()
        await engine.dispose()


async def _stored(sessions: SessionMaker) -> tuple[Dialog, list[Message]]:
    async with sessions() as session:
        dialog = await session.scalar(select(Dialog))
        messages = list(await session.scalars(select(Message).order_by(Message.id)))
    assert dialog is not None
    return dialog, messages


def _message_created(dialog: Dialog, message: Message) -> IntegrationEvent:
    """``message.created`` as the hub has always sent it, built from the stored rows."""
    body: dict[str, Any] = {
        "message_id": message.id,
        "dialog_id": dialog.id,
        "client_id": dialog.client_id,
        "channel_id": dialog.channel_id,
        "author": message.author,
        "author_name": message.author_name,
        "text": message.text,
        "attachments": list(message.attachments or ()),
    }
    return integration_event("message.created", str(message.id), CLOCK, body)


async def test_each_stored_message_is_one_entry_on_events(talk: Talk) -> None:
    _dialog, messages = await _stored(talk.sessions)
    assert [m.author for m in messages] == ["client", "operator", "operator"]
    for message in messages:
        about = [
            e
            for _id, e in talk.entries
            if (isinstance(e, MessageEvent) and e.message.id == message.id)
            or (isinstance(e, IntegrationEvent) and e.data.get("message_id") == message.id)
        ]
        assert len(about) == 1, (message.id, about)
        # The console's frame is what it always was: the view alone.
        frame = event_frame(cast(MessageEvent, about[0]), "1-0")
        assert set(frame) == {"type", "message", "stream_id"}
        assert frame["message"]["id"] == message.id
    alone = [e.event for _id, e in talk.entries if isinstance(e, IntegrationEvent)]
    # Only what no dialog event of the same change could carry stays an entry of its own.
    assert alone == ["client.created", "dialog.opened"]


async def test_integrations_hear_every_event_once_in_order_with_their_bodies(
    talk: Talk,
) -> None:
    dialog, messages = await _stored(talk.sessions)
    heard = [(entry_id, hook) for entry_id, e in talk.entries if (hook := carried(e))]
    assert [hook.event for _id, hook in heard] == [
        "client.created",
        "dialog.opened",
        "dialog.assigned",
        "message.created",
        "message.created",
        "dialog.closed",
        "rating.received",
    ]
    # One event per entry: a realtime client resuming after a frame's stream id misses none.
    assert len({entry_id for entry_id, _hook in heard}) == len(heard)
    client_says, reply, note = messages
    created = [hook for _id, hook in heard if hook.event == "message.created"]
    assert created == [_message_created(dialog, client_says), _message_created(dialog, reply)]
    assert note.hidden
    # The lifecycle events that rode on the console's dialog events are the ones built alone.
    rode = [e.hook for _id, e in talk.entries if isinstance(e, DialogEvent) and e.hook]
    closed = dialog_event(
        "dialog.closed", dialog, CLOCK, f"closed:{CLOCK.isoformat()}", outcome=dialog.outcome
    )
    assert rode[1:] == [
        closed,
        dialog_event("rating.received", dialog, CLOCK, "rating", rating=5),
    ]
