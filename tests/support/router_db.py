"""A seeded database and bus deliveries for the tests that drive the router directly."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core import streams
from core.bus import Delivery
from core.db import SessionMaker, make_engine, make_sessionmaker
from core.db.migrate import upgrade
from core.db.schema import Channel, Operator
from core.envelope import RouterInput
from operator_console.seed import do_seed
from tests.support.admin import ADMIN_PASSWORD


async def seeded_database(db_url: str) -> tuple[AsyncEngine, SessionMaker]:
    """The migrated database at ``db_url`` with the demo seed (the admin, the demo line and its
    web chat channel). The caller disposes of the engine."""
    engine = make_engine(db_url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    await do_seed(sessions, "admin", ADMIN_PASSWORD)
    return engine, sessions


async def drop_other_connections(engine: AsyncEngine) -> int:
    """End every other connection to ``engine``'s PostgreSQL database, as a restart of the
    server would: how many there were."""
    async with engine.connect() as connection:
        dropped = await connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    return int(dropped or 0)


async def demo_ids(sessions: SessionMaker) -> tuple[int, int]:
    """The seeded demo web chat channel's id and the admin's."""
    async with sessions() as session:
        channel_id = await session.scalar(select(Channel.id).where(Channel.key == "demo"))
        admin_id = await session.scalar(select(Operator.id).where(Operator.login == "admin"))
    assert channel_id is not None and admin_id is not None
    return channel_id, admin_id


def command(payload: RouterInput) -> Delivery[RouterInput]:
    """``payload`` as the router reads it from the commands stream."""
    return Delivery(streams.COMMANDS, "0-1", payload)
