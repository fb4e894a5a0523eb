"""KPI plan against fact, and the weighted points rating of operators (docs/PROTOCOL.md,
"KPI and rating")."""

from __future__ import annotations

from aiohttp import web

from operator_console.kpi import board_api, coverage_api, plans_api

__all__ = ["routes"]


def routes() -> list[web.AbstractRouteDef]:
    """Every ``/api/kpi/...`` route."""
    return [*plans_api.routes(), *board_api.routes(), *coverage_api.routes()]
