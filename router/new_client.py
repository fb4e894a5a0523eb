"""A client never seen: the client and their identity on the channel, stored without the unit
of work.

Through the ORM each of the two rows took a flush of its own, since the identity needs the
client's id and the dialog the identity's. A flush costs several times the INSERT it sends
(the unit of work is set up, sorted and torn down for one row, and the session's flush hooks
run), and a new dialog paid for five of them. Here each row is one INSERT … RETURNING
(``core.db.loaded.stored``), and the session holds the entity as if the ORM had loaded it, so
nothing later in the batch reads it back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.loaded import stored
from core.db.schema import Client, ClientIdentity


async def do_add_client(
    session: AsyncSession, channel_id: int, external_id: str, name: str, now: datetime
) -> tuple[Client, ClientIdentity]:
    """Store a new client known on ``channel_id`` as ``external_id``; both entities, held by
    ``session``."""
    client = await stored(session, Client(name=name, created_at=now, updated_at=now))
    identity = ClientIdentity(
        client_id=client.id,
        channel_id=channel_id,
        external_id=external_id,
        display_name=name,
        created_at=now,
    )
    return client, await stored(session, identity)
