"""Delivery reports: what connectors learned about our messages, recorded by the router.

A connector publishes the outcome of each send (``DeliveryOutcome``) and each receipt its
platform sends back (``DeliveryReceipt``) on the command stream; the router, the only writer of
messages, records them and tells the operators who see the dialog. A status only moves forward
(sent, delivered, seen; failed with its reason), so a late or repeated report changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select

from core import streams
from core.db.schema import Dialog, Message
from core.envelope import (
    DeliveryOutcome,
    DeliveryReceipt,
    DeliveryStatus,
    MessageEvent,
    MessageView,
)
from core.views import message_view
from router.batch import Batch
from router.reads import chunks, participants_of
from router.statements import by_ids

log = logging.getLogger(__name__)

_RANK = {None: 0, "sent": 1, "delivered": 2, "seen": 3, "failed": 4}


async def do_delivery_outcome(work: Batch, outcome: DeliveryOutcome) -> None:
    """Record what became of a send: the platform's id of the message and its status."""
    message = await work.session.get(Message, outcome.message_id)
    if message is None:
        log.warning("delivery outcome names message %d, which does not exist", outcome.message_id)
        return
    await _record(work, message, outcome.status, outcome.external_id, outcome.error)


async def do_delivery_outcome_run(work: Batch, outcomes: Sequence[DeliveryOutcome]) -> None:
    """Record consecutive outcomes in order, as ``do_delivery_outcome`` would one by one, with
    the reads and writes set-wise: one read of the messages, one flush of their changes, one
    read of their dialogs. Nothing an outcome changes decides who sees a dialog, so each
    announcement's recipients may be read once the run's changes are made."""
    session = work.session
    messages: dict[int, Message] = {}
    for chunk in chunks(sorted({o.message_id for o in outcomes})):
        found = await session.scalars(by_ids(Message), {"ids": chunk})
        messages.update((m.id, m) for m in found)
    changed: list[tuple[int, MessageView]] = []  # (dialog id, the message as it was then)
    for outcome in outcomes:
        message = messages.get(outcome.message_id)
        if message is None:
            log.warning(
                "delivery outcome names message %d, which does not exist", outcome.message_id
            )
        elif _change(message, outcome.status, outcome.external_id, outcome.error):
            changed.append((message.dialog_id, message_view(message)))
    if not changed:
        return
    await session.flush()
    dialogs: dict[int, Dialog] = {}
    for chunk in chunks(sorted({dialog_id for dialog_id, _view in changed})):
        found_dialogs = await session.scalars(by_ids(Dialog), {"ids": chunk})
        dialogs.update((d.id, d) for d in found_dialogs)
    known = work.participants_known
    # Outcomes write no participants, so what is read here stays true.
    work.participants_known = await participants_of(work, set(dialogs))
    try:
        recipients = {i: await work.recipients(dialog) for i, dialog in dialogs.items()}
    finally:
        work.participants_known = known
    for dialog_id, view in changed:
        work.emit(
            streams.EVENTS,
            MessageEvent(
                key=f"message:{view.id}:{view.delivery_status}",
                recipients=recipients[dialog_id],
                message=view,
            ),
        )


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
    if not _change(message, status, external_id, error):
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


def _change(
    message: Message, status: DeliveryStatus, external_id: str | None, error: str | None
) -> bool:
    """Move the message's status forward (never back) and keep the platform's id; whether
    there is anything to announce."""
    changed = False
    if _RANK[status] > _RANK.get(message.delivery_status, 0):
        message.delivery_status = status
        message.delivery_error = error
        changed = True
    if external_id is not None:
        # Announced again on a repeated outcome too: the first announcement may never have left.
        message.external_id = external_id
        changed = True
    return changed
