"""Dialogs written straight into the database for the statistics tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.db import SessionMaker
from core.db.schema import Client, ClientIdentity, Dialog
from core.envelope import utcnow


async def add_client_dialog(
    sessions: SessionMaker,
    line_id: int,
    channel_id: int,
    *,
    operator_id: int | None,
    opened_at: datetime | None = None,
    **fields: Any,
) -> int:
    """A dialog of a new client on ``line_id`` / ``channel_id``; ``fields`` set the rest."""
    at = opened_at or utcnow()
    async with sessions() as s, s.begin():
        client = Client(name=f"Client {line_id}-{channel_id}")
        s.add(client)
        await s.flush()
        identity = ClientIdentity(
            client_id=client.id, channel_id=channel_id, external_id=f"ext-{client.id}"
        )
        s.add(identity)
        await s.flush()
        dialog = Dialog(
            line_id=line_id,
            channel_id=channel_id,
            client_id=client.id,
            identity_id=identity.id,
            operator_id=operator_id,
            opened_at=at,
            last_message_at=fields.pop("last_message_at", at),
            **fields,
        )
        s.add(dialog)
        await s.flush()
        return dialog.id
