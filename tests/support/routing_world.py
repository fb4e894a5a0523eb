"""Staffing the demo line and driving its timers, for the routing tests that run a whole hub.

``configure`` replaces the demo line's queue with new operators (password ``PASSWORD``);
``fire_now`` makes an armed timer due, which is what the clock reaching it looks like to the
timer loop; ``operator`` and ``dialog_where`` are the protocol client's side of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio
from sqlalchemy import delete, select

from config.settings import Settings
from core import streams
from core.db import make_engine, make_sessionmaker
from core.db.schema import Line, LineOperator, Operator
from operator_console.auth import hash_password
from tests.support.hubclient import OperatorClient

PASSWORD = "operator-password-1"

Staff = str | tuple[str, int | None]
"""An operator of the queue: a login, or a login with its ``max_open_dialogs``."""


async def configure(
    settings: Settings, mode: str, people: Sequence[Staff], **line_settings: Any
) -> dict[str, int]:
    """Make the demo line route by ``mode`` to these new operators, in queue order.

    Returns the operators' ids by login, and the line's id as ``"line"``.
    """
    engine = make_engine(settings.effective_database_url)
    ids: dict[str, int] = {}
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            line = await s.scalar(select(Line).where(Line.key == "demo"))
            assert line is not None
            line.distribution = mode
            line.settings = line_settings
            await s.execute(delete(LineOperator).where(LineOperator.line_id == line.id))
            for position, person in enumerate(people):
                login, cap = (person, None) if isinstance(person, str) else person
                op = Operator(
                    login=login,
                    name=login.title(),
                    role="operator",
                    password_hash=hash_password(PASSWORD),
                )
                s.add(op)
                await s.flush()
                s.add(
                    LineOperator(
                        line_id=line.id, operator_id=op.id, position=position, max_open_dialogs=cap
                    )
                )
                ids[login] = op.id
            ids["line"] = line.id
    finally:
        await engine.dispose()
    return ids


async def fire_now(redis_url: str, key: str) -> None:
    """Make timer ``key`` due now; fails if it is not armed within a few seconds."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        for _ in range(100):
            if await client.zscore(streams.TIMERS_DUE, key) is not None:
                await client.zadd(streams.TIMERS_DUE, {key: 0})
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timer {key} is not armed")
    finally:
        await client.aclose()


async def operator(hub: str, login: str, password: str = PASSWORD) -> OperatorClient:
    """An operator signed in to ``hub`` with the live socket open."""
    client = OperatorClient(hub)
    await client.login(login, password)
    await client.open_socket()
    return client


async def dialog_where(client: OperatorClient, timeout: float = 10, **match: Any) -> dict[str, Any]:
    """The next dialog frame whose dialog matches ``match``."""
    frame = await client.receive_until("dialog", timeout=timeout, **match)
    dialog: dict[str, Any] = frame["dialog"]
    return dialog
