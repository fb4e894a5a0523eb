"""Typed keys of the console's own objects; the process-wide ones are in ``core.app_keys``."""

from __future__ import annotations

from aiohttp import web

from config.settings import Settings
from connectors.base import Connector
from core.db.schema import Operator
from core.metrics import HubMetrics
from operator_console.login_guard import LoginGuard
from router.worker import RouterService

SETTINGS = web.AppKey("settings", Settings)
FIRST_LOGIN = web.AppKey("first_login", str)
"""What to print about the first admin's login on this start."""
OPERATOR = web.RequestKey("operator", Operator)
"""The logged-in caller of an /api request."""
LOGIN_GUARD = web.AppKey("login_guard", LoginGuard)
"""Failed-login counts and locks, shared by every console process through Redis."""
METRICS = web.AppKey("metrics", HubMetrics)
"""This process's Prometheus metrics (the bus carries the same object)."""
ROUTER_SERVICE = web.AppKey("router_service", RouterService)
"""The lease keeper of a process that runs the router (absent on other roles)."""
CHANNELS = web.AppKey("channels", list[Connector])
"""The connectors this process runs (none in a console-only process)."""
