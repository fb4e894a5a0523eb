"""The database: engine, sessions, schema and migrations."""

from core.db.engine import SessionMaker, is_sqlite, make_engine, make_sessionmaker
from core.db.migrate import upgrade

__all__ = ["SessionMaker", "is_sqlite", "make_engine", "make_sessionmaker", "upgrade"]
