"""Typed keys under which the application keeps its shared objects (no module singletons)."""

from __future__ import annotations

from aiohttp import web
from redis.asyncio import Redis

from config.settings import Settings
from core.bus import Bus
from core.db import SessionMaker
from core.db.schema import Operator

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
BUS = web.AppKey("bus", Bus)
SESSIONS = web.AppKey("sessions", SessionMaker)
FIRST_LOGIN = web.AppKey("first_login", str)
"""What to print about the first admin's login on this start."""
OPERATOR = web.RequestKey("operator", Operator)
"""The logged-in caller of an /api request."""
