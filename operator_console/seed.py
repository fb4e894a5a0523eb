"""First start: a demo line with a web-chat channel, and the first admin."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from core.db import SessionMaker
from core.db.schema import Channel, Line, LineOperator, Operator
from operator_console.auth import hash_password


async def do_seed(sessions: SessionMaker, admin_login: str, admin_password: str) -> str | None:
    """Create the demo line and the first admin when the database has no operator yet.

    Returns the admin's password when this call created the admin (so it can be printed once),
    else None.
    """
    async with sessions() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(Operator)):
            return None
        password = admin_password or secrets.token_urlsafe(12)
        admin = Operator(
            login=admin_login,
            name="Administrator",
            role="admin",
            password_hash=hash_password(password),
        )
        session.add(admin)
        line = await session.scalar(select(Line).order_by(Line.id).limit(1))
        if line is None:
            line = Line(key="demo", name="Demo line", language="en", timezone="UTC", settings={})
            session.add(line)
            await session.flush()
            session.add(
                Channel(
                    line_id=line.id, kind="webchat", key="demo", name="Demo shop chat", config={}
                )
            )
        await session.flush()
        session.add(LineOperator(line_id=line.id, operator_id=admin.id, position=0))
    return password
