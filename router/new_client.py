"""A client never seen: the client and their identity on the channel, written by Core.

Through the ORM each of the two rows took a flush of its own, since the identity needs the
client's id and the dialog the identity's. A flush costs several times the INSERT it sends
(the unit of work is set up, sorted and torn down for one row, and the session's flush hooks
run), and a new dialog paid for five of them. Here each row is one INSERT … RETURNING, and the
returned row becomes the entity the session holds, as if the ORM had loaded it, so nothing
later in the batch reads it back.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.loaded import adopt, shape
from core.db.on_cursor import core_rows
from core.db.schema import Client, ClientIdentity

CLIENT = shape(Client)
IDENTITY = shape(ClientIdentity)


@cache
def _insert_client() -> Any:
    table: Any = Client.__table__
    return insert(table).returning(*CLIENT.columns)


@cache
def _insert_identity() -> Any:
    table: Any = ClientIdentity.__table__
    return insert(table).returning(*IDENTITY.columns)


async def do_add_client(
    session: AsyncSession, channel_id: int, external_id: str, name: str, now: datetime
) -> tuple[Client, ClientIdentity]:
    """Store a new client known on ``channel_id`` as ``external_id``; both entities, held by
    ``session``."""
    # Every column is given, none left to a default computed in Python, so that the statement
    # runs on the driver's cursor (``core.db.on_cursor``).
    client_values = {"name": name, "email": None, "created_at": now, "updated_at": now}
    [row] = await core_rows(session, _insert_client(), client_values)
    client: Client = adopt(session.sync_session, CLIENT, row)
    values: dict[str, Any] = {
        "client_id": client.id,
        "channel_id": channel_id,
        "external_id": external_id,
        "display_name": name,
        "created_at": now,
    }
    [row] = await core_rows(session, _insert_identity(), values)
    identity: ClientIdentity = adopt(session.sync_session, IDENTITY, row)
    return client, identity
