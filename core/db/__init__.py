"""The database: engine, sessions, schema and migrations."""

from core.db.engine import SessionMaker, is_sqlite, make_engine, make_sessionmaker
from core.db.migrate import (
    DatabaseTooNew,
    at_head,
    check_not_newer,
    current_revisions,
    upgrade,
)

__all__ = [
    "DatabaseTooNew",
    "SessionMaker",
    "at_head",
    "check_not_newer",
    "current_revisions",
    "is_sqlite",
    "make_engine",
    "make_sessionmaker",
    "upgrade",
]
