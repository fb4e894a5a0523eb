"""The admin API's routes (docs/PROTOCOL.md, "Admin: lines and operators"): lines and their
queues, operators, groups of operators, and public holidays to import into working hours.
Each module checks the caller's role itself: admins write, managers read."""

from __future__ import annotations

from aiohttp import web

from operator_console import admin_lines_api, admin_operators_api, groups_api, holidays_api


def routes() -> list[web.AbstractRouteDef]:
    """Every admin route for lines, operators, groups and holidays."""
    return [
        *admin_lines_api.routes(),
        *admin_operators_api.routes(),
        *groups_api.routes(),
        *holidays_api.routes(),
    ]
