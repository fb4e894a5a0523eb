"""Secrets made once per installation: the first process to ask makes one, all share it."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError

from core.db import SessionMaker
from core.db.schema import InstallationSecret


async def installation_secret(sessions: SessionMaker, name: str) -> bytes:
    """The installation's secret called ``name``, made (32 random bytes) on first use.

    Two processes asking at once both try to insert; the loser's insert fails on the primary
    key and it reads the winner's value, so every process ends up with the same one.
    """
    async with sessions() as session:
        stored = await session.get(InstallationSecret, name)
        if stored is not None:
            return bytes.fromhex(stored.value)
    try:
        async with sessions() as session, session.begin():
            session.add(InstallationSecret(name=name, value=secrets.token_hex(32)))
    except IntegrityError:
        pass
    async with sessions() as session:
        stored = await session.get(InstallationSecret, name)
        assert stored is not None
        return bytes.fromhex(stored.value)
