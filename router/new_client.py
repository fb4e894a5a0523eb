"""Clients never seen: each client and their identity on the channel, stored without the unit
of work, and a run's new clients together.

Through the ORM each of the two rows took a flush of its own, since the identity needs the
client's id and the dialog the identity's. A flush costs several times the INSERT it sends
(the unit of work is set up, sorted and torn down for one row, and the session's flush hooks
run), and a new dialog paid for five of them. Here each kind of row is one INSERT … RETURNING
(``core.db.loaded.stored_all``) for all the clients a run of messages meets for the first
time, and the session holds the entities as if the ORM had loaded them, so nothing later in the
batch reads them back. A burst of new visitors no longer pays two statements each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.loaded import stored_all
from core.db.schema import Client, ClientIdentity
from core.envelope import InboundMessage

Newcomer = tuple[int, str, str]
"""A client to store: the channel's id, their id on the channel and the name it gave."""

Added = dict[tuple[int, str], tuple[Client, ClientIdentity]]
"""New clients and their identities by (channel id, id on the channel)."""

AddClient = Callable[[int, InboundMessage], Awaitable[tuple[Client, ClientIdentity]]]
"""Stores the sender of a message, a client never seen, on a channel (by its id)."""


async def do_add_clients(
    session: AsyncSession, newcomers: Sequence[Newcomer], now: datetime
) -> Added:
    """Store new clients, each known on a channel by an id of theirs (each pair once), with
    one INSERT for the clients and one for their identities; the entities, held by
    ``session``."""
    clients = await stored_all(
        session,
        [Client(name=name, created_at=now, updated_at=now) for _cid, _ext, name in newcomers],
        _name,  # clients of one name are alike: the same row but for the id
    )
    identities = await stored_all(
        session,
        [
            ClientIdentity(
                client_id=client.id,
                channel_id=channel_id,
                external_id=external_id,
                display_name=name,
                created_at=now,
            )
            for client, (channel_id, external_id, name) in zip(clients, newcomers, strict=True)
        ],
        _channel_and_external_id,  # unique
    )
    return {
        (identity.channel_id, identity.external_id): (client, identity)
        for client, identity in zip(clients, identities, strict=True)
    }


def _name(client: Client) -> str:
    return client.name


def _channel_and_external_id(identity: ClientIdentity) -> tuple[int, str]:
    return identity.channel_id, identity.external_id
