"""A run of operators' replies, handled set-wise.

Each reply needs its dialog, its operator, the client's identity and a check that it is not
stored already. Read one at a time that is four statements a reply; for a run of consecutive
replies of a batch they are one statement each in all, read together with the dialogs'
participants for the events (in one round trip on PostgreSQL): the dialogs land in the session,
whose identity map answers the lookups, the operators and identities are read as rows, and the
repeat check reads one map.

The writes are set-wise too. Replies to dialogs their operators hold (nearly all of them) are
checked in order and stored together: every dialog's counters moved on at once
(``core.db.counters``: one ``executemany``, one upsert of the daily rollup) and one INSERT …
RETURNING for every message. A reply that takes a waiting dialog first changes who may write
in it, and perhaps who takes part, so it ends the stretch and goes the way of ``do_reply``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import loaded
from core.db.counters import Counting
from core.db.schema import Dialog, Message
from core.envelope import OperatorReply
from router.actions import (
    NEW_REPLY_COLUMNS,
    StoredReplies,
    do_intents,
    do_reply,
    may_store_reply,
    new_reply,
)
from router.batch import Batch
from router.lifecycle import decide_operator_message
from router.reads import (
    Acting,
    chunks,
    load_policy,
    participants_from,
    participants_of,
    participants_reads,
)
from router.snapshots import LinePolicy
from router.statements import (
    REPLY_PAIRS_PAGE,
    MessageRecord,
    acting_operators,
    external_ids_of_dialogs,
    insert_messages,
    pair_params,
    pair_slots,
    reply_ids_by_pairs,
)


@dataclass
class _Answer:
    """A reply of the stretch: stored with it (``new``) or found stored already."""

    dialog: Dialog
    external_user_id: str
    cmd: OperatorReply
    new: MessageRecord | None
    first: bool = False


async def do_reply_run(work: Batch, replies: Sequence[OperatorReply]) -> None:
    """Handle consecutive replies in order, reading and writing set-wise."""
    if not replies:
        return
    session = work.session
    dialog_ids = sorted({r.dialog_id for r in replies})
    operator_ids = sorted({r.operator_id for r in replies})
    # The dialogs, their identities and participants, the operators, the replies stored
    # already and the setup's version: in one round trip where the driver can.
    repeats = _stored_reads(replies)
    joined = participants_reads(set(dialog_ids))
    dialog_rows, identities, acting, *found = await work.read_with_setup(
        [
            loaded.by_ids_read(Dialog, dialog_ids),
            (external_ids_of_dialogs(), {"ids": dialog_ids}),
            (acting_operators(), {"ids": operator_ids}),
            *joined,
            *repeats,
        ]
    )
    # Held until the run ends: the session's identity map keeps unchanged rows only weakly.
    dialogs = {d.id: d for d in loaded.adopt_rows(session, Dialog, dialog_rows)}
    operators: dict[int, Acting] = {row.id: row for row in acting}
    external_user_ids: dict[int, str] = {row.id: row.external_id for row in identities}
    # True until a reply goes the way of do_reply, which may change who takes part.
    participants: dict[int, tuple[int, ...]] | None = participants_from(
        set(dialog_ids), found[: len(joined)]
    )
    found = found[len(joined) :]
    stored = await _stored_replies(session, [row.id for rows in found for row in rows])
    stretch: list[_Answer] = []
    fresh: set[tuple[int, str]] = set()  # stored with the stretch, not yet written
    for reply in replies:
        dialog, operator = dialogs.get(reply.dialog_id), operators.get(reply.operator_id)
        if dialog is None or operator is None or dialog.operator_id is None:
            # Logged and dropped, or a take first: in order after what came before.
            await _store(work, stretch, stored, participants)
            stretch, fresh, participants = [], set(), None
            await do_reply(work, reply, stored)
            continue
        answer = _Answer(dialog, external_user_ids[dialog.identity_id], reply, None)
        key = (dialog.id, reply.client_msg_id)
        if key in stored or key in fresh:
            stretch.append(answer)  # a repeat: its effects again, nothing stored
            continue
        if not await may_store_reply(work, dialog, operator, reply):
            continue
        answer.first = dialog.first_response_at is None
        answer.new = new_reply(work, dialog, operator, reply)
        fresh.add(key)
        stretch.append(answer)
    await _store(work, stretch, stored, participants)
    del dialogs, operators


def _stored_reads(replies: Sequence[OperatorReply]) -> list[tuple[Any, dict[str, Any]]]:
    """The reads of the ids of the replies stored already, by (dialog, client message id)."""
    keys = sorted({(r.dialog_id, r.client_msg_id) for r in replies})
    return [
        (reply_ids_by_pairs(pair_slots(len(page))), pair_params(page))
        for page in chunks(keys, REPLY_PAIRS_PAGE)
    ]


async def _stored_replies(session: AsyncSession, hits: list[int]) -> StoredReplies:
    """The replies stored already (repeats, which are rare) of the ids ``_stored_reads``
    found, by (dialog, client message id)."""
    if not hits:
        return {}
    found = await loaded.by_ids(session, Message, hits)
    return {_client_key(m): m for m in found}


async def _store(
    work: Batch,
    stretch: list[_Answer],
    stored: StoredReplies,
    participants: dict[int, tuple[int, ...]] | None,
) -> None:
    """Store the stretch's new replies in one go, then give each reply its effects in order
    (``participants``: the dialogs', when they are known still; None: read here)."""
    if not stretch:
        return
    session = work.session
    new = [a.new for a in stretch if a.new is not None]
    if new:
        answered = [a.dialog for a in stretch if a.new is not None]
        # One executemany, sent with the INSERT, and one rollup upsert at the commit; the
        # first replies' first response times are flushed before. (dialog, client_msg_id) is
        # unique: it matches the returned ids to the messages.
        counting = Counting.of(work.now, (), answered)
        await insert_messages(session, new, NEW_REPLY_COLUMNS, _client_key, counting)
        stored.update((_client_key(m), m) for m in new)
    policies: dict[int, LinePolicy] = {}
    known = work.participants_known
    # Nothing below writes participants, so what is read here stays true.
    if participants is None:
        participants = await participants_of(work, {a.dialog.id for a in stretch})
    work.participants_known = participants
    try:
        for answer in stretch:
            dialog = answer.dialog
            message = stored[(dialog.id, answer.cmd.client_msg_id)]
            if answer.first:
                await work.announce_dialog(dialog, message)
            await work.announce_message(dialog, message)
            await work.deliver(dialog, message, answer.external_user_id)
            if answer.new is not None:
                if dialog.line_id not in policies:
                    policies[dialog.line_id] = await load_policy(work, dialog.line_id)
                policy = policies[dialog.line_id]
                await do_intents(work, decide_operator_message(dialog.id, policy, work.now))
    finally:
        work.participants_known = known


def _client_key(message: Any) -> tuple[int, str]:
    return message.dialog_id, message.client_msg_id or ""
