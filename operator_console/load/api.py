"""``GET /api/stats/load``: the live load as the caller may see it (docs/PROTOCOL.md)."""

from __future__ import annotations

from aiohttp import web

from core.app_keys import SESSIONS
from core.envelope import utcnow
from operator_console.keys import OPERATOR
from operator_console.load.push import VIEWER_ROLES
from operator_console.load.snapshot import narrow, read_load
from operator_console.stats.scope import stats_scope


async def get_load(request: web.Request) -> web.Response:
    """GET /api/stats/load: admins and analysts see every line, managers their own lines and
    operators; operators get 403."""
    operator = request[OPERATOR]
    if operator.role not in VIEWER_ROLES:
        return web.json_response(
            {"error": "the live load is for admins, analysts and managers"}, status=403
        )
    async with request.app[SESSIONS]() as session:
        scope = await stats_scope(session, operator)
        snapshot = narrow(await read_load(session, utcnow(), scope), scope)
    return web.json_response(text=snapshot.model_dump_json())


def routes() -> list[web.AbstractRouteDef]:
    """The live load route."""
    return [web.get("/api/stats/load", get_load)]
