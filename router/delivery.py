"""Delivery reports: what connectors learned about our messages, recorded by the router.

A connector publishes the outcome of each send (``DeliveryOutcome``) and each receipt its
platform sends back (``DeliveryReceipt``) on the command stream; the router, the only writer of
messages, records them and tells the operators who see the dialog. A status only moves forward
(sent, delivered, seen; failed with its reason), so a late or repeated report changes nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from core import streams
from core.db.schema import Dialog, Message
from core.envelope import DeliveryOutcome, DeliveryReceipt, DeliveryStatus, MessageEvent
from core.views import message_view
from router.batch import Batch

log = logging.getLogger(__name__)

_RANK = {None: 0, "sent": 1, "delivered": 2, "seen": 3, "failed": 4}


async def do_delivery_outcome(work: Batch, outcome: DeliveryOutcome) -> None:
    """Record what became of a send: the platform's id of the message and its status."""
    message = await work.session.get(Message, outcome.message_id)
    if message is None:
        log.warning("delivery outcome names message %d, which does not exist", outcome.message_id)
        return
    await _record(work, message, outcome.status, outcome.external_id, outcome.error)


async def do_delivery_receipt(work: Batch, receipt: DeliveryReceipt) -> None:
    """Apply a platform's receipt to the message it names; one we never sent is ignored."""
    message = await work.session.scalar(
        select(Message).where(
            Message.channel_id == receipt.channel_id,
            Message.external_id == receipt.external_id,
        )
    )
    if message is None:
        return
    await _record(work, message, receipt.status, None, receipt.error)


async def _record(
    work: Batch,
    message: Message,
    status: DeliveryStatus,
    external_id: str | None,
    error: str | None,
) -> None:
    """Move the status forward (never back), keep the platform's id, and announce a change."""
    changed = False
    if _RANK[status] > _RANK.get(message.delivery_status, 0):
        message.delivery_status = status
        message.delivery_error = error
        changed = True
    if external_id is not None:
        # Announced again on a repeated outcome too: the first announcement may never have left.
        message.external_id = external_id
        changed = True
    if not changed:
        return
    await work.session.flush()
    dialog = await work.session.get(Dialog, message.dialog_id)
    assert dialog is not None
    work.emit(
        streams.EVENTS,
        MessageEvent(
            key=f"message:{message.id}:{message.delivery_status}",
            recipients=await work.recipients(dialog),
            message=message_view(message),
        ),
    )
