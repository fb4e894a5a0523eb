"""The console page, its static files, and the health check."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from sqlalchemy import text

from core.app_keys import REDIS, SESSIONS
from operator_console.page_policy import page_headers
from operator_console.static_files import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


async def health_problems(app: web.Application) -> list[str]:
    """What keeps Redis or the database from answering; empty when both do."""
    problems: list[str] = []
    try:
        await asyncio.wait_for(app[REDIS].ping(), 2)
    except Exception as exc:
        problems.append(f"redis: {type(exc).__name__}: {exc}")
    try:
        async with app[SESSIONS]() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), 2)
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}: {exc}")
    return problems


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: 200 when Redis and the database answer, else 503 with the reason."""
    problems = await health_problems(request.app)
    if problems:
        return web.json_response({"status": "unavailable", "problems": problems}, status=503)
    return web.json_response({"status": "ok"})


def routes() -> list[web.AbstractRouteDef]:
    """Page routes: the console page, its static files (gzip-compressed) and the health check."""
    files = StaticFiles(STATIC)

    async def index(request: web.Request) -> web.Response:
        """GET /: the console."""
        return await files.respond(request, "index.html", page_headers(request))

    return [
        web.get("/", index),
        web.get("/healthz", healthz),
        web.get("/static/{path:.+}", files.handle),
    ]
