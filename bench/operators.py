"""Extra operator accounts for a benchmark, written straight into the hub's database.

The hub seeds one admin on the demo line; a run with more operators adds ``bench-op-N``
accounts with the app's own models and password hashing, so they log in like anyone else.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from core.db import make_engine, make_sessionmaker
from core.db.schema import Line, LineOperator, Operator
from operator_console.auth import hash_password


async def add_operators(database_url: str, count: int, line_key: str) -> list[tuple[str, str]]:
    """Create ``count`` operators on the line ``line_key``; returns their (login, password).

    One password for all of them: argon2 is deliberately slow, and hashing once keeps the
    set-up of a large run short without changing how login checks it.
    """
    if count <= 0:
        return []
    password = secrets.token_urlsafe(12)
    digest = hash_password(password)
    engine = make_engine(database_url)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            line = await session.scalar(select(Line).where(Line.key == line_key))
            if line is None:
                raise RuntimeError(f"the hub's database has no line {line_key!r}")
            taken = await session.scalar(
                select(LineOperator.position)
                .where(LineOperator.line_id == line.id)
                .order_by(LineOperator.position.desc())
                .limit(1)
            )
            logins = [f"bench-op-{i + 1}" for i in range(count)]
            for place, login in enumerate(logins, start=(taken or 0) + 1):
                operator = Operator(
                    login=login, name=f"Bench operator {place}", password_hash=digest
                )
                session.add(operator)
                await session.flush()
                session.add(LineOperator(line_id=line.id, operator_id=operator.id, position=place))
    finally:
        await engine.dispose()
    return [(login, password) for login in logins]
