"""Database engine and sessions: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from core.db import figures, held, rollup

SessionMaker = async_sessionmaker[AsyncSession]

BUSY_TIMEOUT_MS = 30_000
"""How long an SQLite connection waits for another's write lock before its statement fails."""

SQLITE_PRAGMAS = (
    # WAL lets console readers go on while the router writes; NORMAL sync is safe in WAL mode
    # (a power cut may lose the last commits, never corrupt the file).
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
)


def is_sqlite(url: str) -> bool:
    """True for an SQLite URL."""
    return url.startswith("sqlite")


def sqlite_file(url: str | URL) -> str | None:
    """The file of ``url``'s database when it is a plain SQLite file, one that ``sqlite3.connect``
    opens by its name as the engine does; None for another database, an in-memory one or one
    named by URI options."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query:
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return database


def make_engine(url: str, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url``; SQLite connections get WAL and foreign keys."""
    if is_sqlite(url):
        # Fifteen connections at most, as the pool's default (5 kept, 10 more in a burst), but
        # all of them kept: a burst (a hundred widgets opening at once) overflowed the five,
        # and each overflow connection was closed on return and opened again in the next
        # burst, a new thread and the pragmas each time, several times the CPU of the
        # statement it served.
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": 30}, pool_size=15, max_overflow=0
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            for pragma in SQLITE_PRAGMAS:
                cur.execute(pragma)
            cur.close()

        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)


class HubSession(Session):
    """A session that keeps each dialog's stored statistics figures (``core.db.figures``) and
    their daily rollup (``core.db.rollup``)."""


event.listen(HubSession, "before_flush", figures.before_flush)
event.listen(HubSession, "before_commit", rollup.write_gathered)
event.listen(HubSession, "after_rollback", rollup.drop_gathered)
held.watch(HubSession)


def make_sessionmaker(
    engine: AsyncEngine, session_class: type[AsyncSession] = AsyncSession
) -> SessionMaker:
    """Sessions that keep loaded attributes after commit (we publish from them afterwards)."""
    return async_sessionmaker(
        engine, class_=session_class, expire_on_commit=False, sync_session_class=HubSession
    )
