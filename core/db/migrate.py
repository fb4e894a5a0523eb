"""Run Alembic migrations from inside the application (``openlines run`` upgrades on start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at our migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` on one of its connections."""

    def _run(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


class DatabaseTooNew(Exception):
    """The database was migrated by a newer Openlines than this one."""


def _check_known(conn: Connection) -> tuple[str, ...]:
    current = tuple(MigrationContext.configure(conn).get_current_heads())
    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    unknown = [revision for revision in current if revision not in known]
    if unknown:
        raise DatabaseTooNew(
            f"the database is at schema revision {', '.join(unknown)}, which this version of "
            "Openlines does not know: it was upgraded by a newer version. Run that version, "
            "or restore a backup taken before the upgrade."
        )
    return current


async def check_not_newer(engine: AsyncEngine) -> tuple[str, ...]:
    """The database's current revisions; ``DatabaseTooNew`` when one is unknown here."""
    async with engine.connect() as conn:
        return await conn.run_sync(_check_known)


async def current_revisions(engine: AsyncEngine) -> tuple[str, ...]:
    """The revisions the database is at (empty before the first migration)."""
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda c: tuple(MigrationContext.configure(c).get_current_heads())
        )
