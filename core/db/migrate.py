"""Run Alembic migrations from inside the application (``openlines run`` upgrades on start).

A start on a database already at this version's heads (every start but the first after an
upgrade) needs no Alembic at all: ``at_head`` compares the stored revisions with the heads read
from the migration files' ``revision`` lines, and Alembic is imported only when they differ.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=]*=\s*(.+)$", re.MULTILINE)


@cache
def known_heads() -> frozenset[str]:
    """The head revisions of this version's migrations, read from their files' ``revision`` and
    ``down_revision`` lines (the same heads Alembic finds, without importing it)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[0-9]*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            found = ast.literal_eval(value.strip())
            ids = {found} if isinstance(found, str) else set(found or ())
            (revisions if name == "revision" else parents).update(ids)
    return frozenset(revisions - parents)


async def at_head(engine: AsyncEngine) -> bool:
    """True when the database is at exactly this version's heads: nothing to upgrade, and
    nothing newer than this version knows."""
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            stored = {str(row[0]) for row in rows}
    except DBAPIError:  # no version table yet: a new database
        return False
    return bool(stored) and stored == known_heads()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at our migrations (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` on one of its connections."""

    def _run(conn: Connection) -> None:
        from alembic import command

        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        if conn.dialect.name == "sqlite":
            analyze_new_indexes(conn)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


def analyze_new_indexes(conn: Connection) -> list[str]:
    """On SQLite, gather statistics for the indexes that have none, when the database has
    statistics at all (someone ran ``ANALYZE``); return the indexes analysed.

    SQLite plans from ``sqlite_stat1`` when it exists and takes an index missing from it for
    a very selective one. So after an upgrade that adds indexes to an analysed database, it
    would prefer the new ones blindly: measured at 1 M dialogs, the statistics' report pages
    went from 5–30 ms to 2–4 s. A database never analysed plans every index by the same
    defaults and is left alone.
    """
    analysed = conn.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    ).first()
    if analysed is None:
        return []
    missing = list(
        conn.execute(
            text(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                " AND name NOT IN (SELECT idx FROM sqlite_stat1 WHERE idx IS NOT NULL)"
            )
        ).scalars()
    )
    for name in missing:
        conn.exec_driver_sql(f'ANALYZE "{name}"')
    return missing


class DatabaseTooNew(Exception):
    """The database was migrated by a newer Openlines than this one."""


def _check_known(conn: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda c: tuple(MigrationContext.configure(c).get_current_heads())
        )
