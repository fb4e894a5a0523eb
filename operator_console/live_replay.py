"""What an operator socket missed when the events stream no longer holds it, from the database.

The events stream is trimmed (``stream_maxlen``), and a Redis that lost its data starts it anew,
so a socket that reconnects with an ``after`` older than the stream's first entry cannot be
caught up from the stream. The database holds the truth: the dialogs the operator sees
(``core.audience``) that changed since then, and the messages stored in them since then, as the
frames the live events would have made.

The time of ``after`` (its milliseconds) bounds what is read, less ``REPLAY_SLACK``: a message
is stored before its event is added to the stream, so one stored a little earlier than ``after``
may still have been announced after it. What the client already had comes again with the same
message and dialog ids, which the console keeps once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from core.audience import visible_dialogs
from core.db import SessionMaker
from core.db.schema import Dialog, Message, Operator
from core.views import message_view
from operator_console.dialog_views import dialog_query, dialog_views

REPLAY_SLACK = timedelta(seconds=60)
REPLAY_LIMIT = 1000
"""Most dialogs, and most messages, replayed: an operator away for longer reloads their lists
anyway (the console does after every reconnect)."""


@dataclass
class Replay:
    """Frames rebuilt from the database, and the keys of the events they stand for."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    """The messages' announcements (``router``'s event keys): the same events arriving from
    the stream later show nothing new and are left out. A delivery event after them is sent,
    and shows nothing older than the status these frames carry (a status never moves back)."""


def stream_time(entry_id: str) -> datetime:
    """When a stream entry was added, from its id (``{ms}-{seq}``)."""
    ms, _dash, _seq = entry_id.partition("-")
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


async def missed_since(sessions: SessionMaker, operator: Operator, after: str) -> Replay:
    """The dialog and message frames ``operator`` may have missed since stream id ``after``:
    dialogs first (the list), then their messages in the order they were stored."""
    since = stream_time(after) - REPLAY_SLACK
    rule = visible_dialogs(operator.id, operator.role)
    changed = or_(
        Dialog.last_message_at >= since,
        Dialog.opened_at >= since,
        Dialog.assigned_at >= since,
        Dialog.closed_at >= since,
    )
    messages_query = (
        select(Message)
        .join(Dialog, Dialog.id == Message.dialog_id)
        .where(Message.created_at >= since)
        .order_by(Message.id)
        .limit(REPLAY_LIMIT)
    )
    dialogs_query = dialog_query().where(changed).order_by(Dialog.id).limit(REPLAY_LIMIT)
    if rule is not None:
        messages_query = messages_query.where(rule)
        dialogs_query = dialogs_query.where(rule)
    async with sessions() as session:
        views = await dialog_views(session, dialogs_query)
        messages = list(await session.scalars(messages_query))
    replay = Replay()
    for view in views:
        replay.frames.append({"type": "dialog", "dialog": view.model_dump(mode="json")})
    for message in messages:
        view_of = message_view(message).model_dump(mode="json")
        replay.frames.append({"type": "message", "message": view_of})
        replay.keys.add(f"message:{message.id}")
    return replay
