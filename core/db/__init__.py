"""The database: engine, sessions, schema and migrations."""

from core.db.engine import SessionMaker, is_sqlite, make_engine, make_sessionmaker
from core.db.migrate import DatabaseTooNew, check_not_newer, current_revisions, upgrade

__all__ = [
    "DatabaseTooNew",
    "SessionMaker",
    "check_not_newer",
    "current_revisions",
    "is_sqlite",
    "make_engine",
    "make_sessionmaker",
    "upgrade",
]
