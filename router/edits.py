"""A client's edit of a message they sent: the new text is shown, the earlier ones are kept.

Telegram and VK let a client change a message after sending it ("3 kettles" becomes "5
kettles"). The operator must see the text the client means now, and must still see what it said
when they answered it: the message takes the new text, and its earlier texts stay on it
(``Message.edits``), oldest first, each with the moment it was replaced. The edit comes on the
client's inbound shard after the message it changes, so that message is stored by then; an
edit of a message the hub never stored (sent before the channel was connected, say) changes
nothing. The same edit handled again (a batch run again after a fault) finds the text it
brings already there and changes nothing either.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm.util import identity_key

from core import streams
from core.db import loaded
from core.db.on_cursor import core_rows
from core.db.schema import Dialog, Message
from core.envelope import ClientEdit, MessageEvent, MessageOrigin
from core.integration_events import edit_key
from core.views import message_view
from router.batch import Batch
from router.delivery import message_by_external_id
from router.statements import MessageRecord

log = logging.getLogger(__name__)

EDITS_KEPT = 20
"""Earlier texts kept on a message, the latest: a client who edits a message a thousand times
must not make every read of the dialog carry a thousand texts."""


async def do_client_edit(work: Batch, edit: ClientEdit) -> None:
    """Give the client's message its new text, keep the one it had, and tell the operators
    who see the dialog."""
    found = await core_rows(
        work.session,
        message_by_external_id(),
        {"channel_id": edit.channel_id, "external_id": edit.external_message_id},
    )
    if not found:
        log.info("an edit names message %s of channel %d, which is not stored",
                 edit.external_message_id, edit.channel_id)  # fmt: skip
        return
    message = MessageRecord(**found[0]._asdict())
    if message.author != "client" or message.text == edit.text:
        return
    earlier = {"text": message.text, "replaced_at": edit.edited_at.isoformat()}
    kept = [*(message.edits or ()), earlier][-EDITS_KEPT:]
    changed = replace(message, text=edit.text, edits=kept)
    await core_rows(
        work.session,
        _write_text(),
        {"b_id": changed.id, "b_text": changed.text, "b_edits": changed.edits},
    )
    held = work.session.identity_map.get(identity_key(Message, changed.id))
    if held is not None:
        work.session.expire(held)  # an entity this batch loaded would show the old text
    dialog = await loaded.get(work.session, Dialog, changed.dialog_id)
    if dialog is None:
        return
    view = message_view(changed)
    work.emit(
        streams.EVENTS,
        MessageEvent(
            # One key per edit: a batch run again repeats it, and the console drops it.
            key=f"message:edit:{edit_key(view)}",
            recipients=await work.recipients(dialog),
            message=view,
            # Integrations read their message.updated from this same entry.
            updated=MessageOrigin(client_id=dialog.client_id, channel_id=dialog.channel_id),
        ),
    )


def _messages() -> Any:
    return Message.__table__


@cache
def _write_text() -> Any:
    c = _messages().c
    return (
        update(_messages())
        .where(c.id == bindparam("b_id"))
        .values(text=bindparam("b_text"), edits=bindparam("b_edits", type_=c.edits.type))
    )
