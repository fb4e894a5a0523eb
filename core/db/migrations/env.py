"""Alembic environment: uses the connection the application hands over, or the URL given."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from core.db import (
    answers_schema,  # noqa: F401  (registers the quick answers table)
    crm_schema,  # noqa: F401  (registers the CRM sink's tables)
    email_schema,  # noqa: F401  (registers the email connector's tables)
    kpi_schema,  # noqa: F401  (registers the KPI plans and rating weights)
    rollup_schema,  # noqa: F401  (registers the statistics' daily rollup)
    routing_schema,  # noqa: F401  (registers the routing tables)
)
from core.db.schema import Base
from core.db.search_schema import include_object

target_metadata = Base.metadata


def _migrate(conn: Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_url(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_migrate)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _migrate(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set sqlalchemy.url (openlines passes its DATABASE_URL)")
    asyncio.run(_migrate_url(url))
