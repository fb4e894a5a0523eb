"""A run of operators' replies, read set-wise before each is handled by ``do_reply``.

Each reply needs its dialog, its operator, the client's identity and a check that it is not
stored already. Read one at a time that is four statements a reply; for a run of consecutive
replies of a batch they are four statements in all: the rows land in the session, whose
identity map answers ``do_reply``'s reads, and the repeat check reads one map.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, tuple_

from core.db.schema import ClientIdentity, Dialog, Message, Operator
from core.envelope import OperatorReply
from router.actions import StoredReplies, do_reply
from router.batch import Batch


async def do_reply_run(work: Batch, replies: Sequence[OperatorReply]) -> None:
    """Handle consecutive replies in order, after reading what they need set-wise."""
    if not replies:
        return
    if len(replies) == 1:
        await do_reply(work, replies[0])
        return
    session = work.session
    dialog_ids = sorted({r.dialog_id for r in replies})
    # Held until the run ends: the session's identity map keeps unchanged rows only weakly.
    dialogs = (await session.scalars(select(Dialog).where(Dialog.id.in_(dialog_ids)))).all()
    operators = (
        await session.scalars(
            select(Operator).where(Operator.id.in_(sorted({r.operator_id for r in replies})))
        )
    ).all()
    identities = (
        await session.scalars(
            select(ClientIdentity).where(
                ClientIdentity.id.in_(sorted({d.identity_id for d in dialogs}))
            )
        )
    ).all()
    keys = sorted({(r.dialog_id, r.client_msg_id) for r in replies})
    stored: StoredReplies = {
        (m.dialog_id, m.client_msg_id or ""): m
        for m in await session.scalars(
            select(Message).where(tuple_(Message.dialog_id, Message.client_msg_id).in_(keys))
        )
    }
    for reply in replies:
        await do_reply(work, reply, stored)
    del dialogs, operators, identities
