"""Typed keys of the process-wide objects in the aiohttp application.

The console and the connectors share one bus, one database and one signing key; each lives
under exactly one key, created in the application's ``cleanup_ctx`` (no module singletons).
"""

from __future__ import annotations

from aiohttp import web
from redis.asyncio import Redis

from core.bus import Bus
from core.db import SessionMaker

__all__ = ["BUS", "REDIS", "SECRET_KEY", "SESSIONS"]

REDIS = web.AppKey("redis", Redis)
"""The process's Redis client."""
BUS = web.AppKey("bus", Bus)
"""The bus on that Redis."""
SESSIONS = web.AppKey("sessions", SessionMaker)
"""Database sessions."""
SECRET_KEY = web.AppKey("secret_key", bytes)
"""The hub's signing key (visitor tokens, signed file links)."""
