"""One line with a web chat, one client and the client's identity there: the rows most tests of
dialogs and messages start from."""

from __future__ import annotations

from dataclasses import dataclass

from core.db import SessionMaker
from core.db.schema import Channel, Client, ClientIdentity, Line


@dataclass(frozen=True)
class SeededClient:
    """The ids of what ``seed_client`` stored."""

    line_id: int
    channel_id: int
    client_id: int
    identity_id: int


async def seed_client(sessions: SessionMaker) -> SeededClient:
    """Line ``l``, its web chat ``c``, client Ann and her identity ``u1`` on that chat."""
    async with sessions() as s, s.begin():
        line = Line(key="l", name="L")
        s.add(line)
        await s.flush()
        channel = Channel(line_id=line.id, kind="webchat", key="c", name="C")
        client = Client(name="Ann")
        s.add_all([channel, client])
        await s.flush()
        identity = ClientIdentity(client_id=client.id, channel_id=channel.id, external_id="u1")
        s.add(identity)
        await s.flush()
        return SeededClient(line.id, channel.id, client.id, identity.id)
