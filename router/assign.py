"""Opening dialogs: the client's open dialog, or a new one linked to their previous one.

Giving dialogs to operators is ``router.actions`` (the writer) over ``router.decide``."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from core import streams
from core.db import loaded
from core.db.figures import prepare_new_dialog
from core.db.loaded import stored
from core.db.schema import (
    Client,
    ClientIdentity,
    Dialog,
    Line,
)
from core.envelope import InboundMessage
from core.integration_events import integration_event
from router.batch import Batch
from router.new_client import AddClient
from router.reads import load_policy
from router.setup_cache import ChannelFacts
from router.snapshots import OPEN_STATUSES

log = logging.getLogger(__name__)


async def do_open_dialog(
    work: Batch,
    channel: ChannelFacts,
    msg: InboundMessage,
    identity: ClientIdentity | None,
    add_client: AddClient,
) -> tuple[Dialog, bool]:
    """The client's open dialog on this channel, or a new one; True when it is new. A client
    never seen is stored by ``add_client``."""
    session = work.session
    threaded = await _mailed_dialog(work, msg) if identity is None else None
    if identity is None and threaded is not None:
        # A visitor who left the web chat answers its mail: the same client, the same dialog.
        identity = ClientIdentity(
            client_id=threaded.client_id, channel_id=channel.id,
            external_id=msg.external_user_id, display_name=msg.client_name, created_at=work.now,
        )  # fmt: skip
        session.add(identity)
        await session.flush()
        return threaded, False
    created = identity is None
    if identity is None:
        client, identity = await add_client(channel.id, msg)
        found = {"client_id": client.id, "name": client.name, "channel_id": channel.id}
        work.emit(
            streams.EVENTS, integration_event("client.created", str(client.id), work.now, found)
        )
    if msg.thread_dialog_id is not None:
        # A reply the channel tied to a dialog (email threading) joins it while it is open.
        threaded = await loaded.get(session, Dialog, msg.thread_dialog_id)
        if (
            threaded
            and threaded.status in OPEN_STATUSES
            and (threaded.identity_id == identity.id or threaded.client_id == identity.client_id)
        ):
            return threaded, False
    previous = None
    if not created:
        # An identity made just now has no dialog yet: nothing to look for.
        dialog = await session.scalar(
            select(Dialog)
            .where(Dialog.identity_id == identity.id, Dialog.status.in_(OPEN_STATUSES))
            .order_by(Dialog.id.desc())
            .limit(1)
        )
        if dialog is not None:
            return dialog, False
        previous = await session.scalar(
            select(func.max(Dialog.id)).where(Dialog.identity_id == identity.id)
        )
    line_id = channel.line_id
    if msg.line_id is not None and await loaded.get(session, Line, msg.line_id) is not None:
        line_id = msg.line_id  # the channel's routing rules chose another line
    dialog = Dialog(
        line_id=line_id,
        channel_id=channel.id,
        client_id=identity.client_id,
        identity_id=identity.id,
        status="waiting",
        opened_at=work.now,
        last_message_at=work.now,
        client_messages=1,  # the message that opens it
        previous_dialog_id=previous,
        # Marked as routing marks it (``router.decide.decide_open``), so that routing leaves
        # the row as stored and the rollup takes it in where it stays.
        began_in_hours=(await load_policy(work, line_id)).is_open(work.now),
    )
    # Stored by a Core INSERT, not a flush of its own (``router.new_client`` says why), with
    # what the flush hook would have done for it done first.
    await session.run_sync(prepare_new_dialog, dialog)
    return await stored(session, dialog), True


async def _mailed_dialog(work: Batch, msg: InboundMessage) -> Dialog | None:
    """The open dialog of another channel a first mail from this address answers: the channel
    tied it to a dialog whose answers went to this address (``connectors.webchat.answer_mail``)."""
    if msg.thread_dialog_id is None or not msg.hints.email:
        return None
    dialog = await loaded.get(work.session, Dialog, msg.thread_dialog_id)
    if dialog is None or dialog.status not in OPEN_STATUSES:
        return None
    client = await loaded.get(work.session, Client, dialog.client_id)
    if client is None or (client.email or "").lower() != msg.hints.email.lower():
        return None
    return dialog
