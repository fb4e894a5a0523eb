"""The statistics endpoints of the console (``GET /api/stats/...``), all behind the session;
each reads the caller's scope and applies it in SQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from core.app_keys import SESSIONS
from operator_console.keys import OPERATOR
from operator_console.stats.charts import daily, heatmap
from operator_console.stats.dialogs import Selection, select_dialogs
from operator_console.stats.export import stream_csv
from operator_console.stats.filters import ReportQuery, StatsFilters, SummaryQuery, read_query
from operator_console.stats.report import report_page
from operator_console.stats.scope import stats_scope
from operator_console.stats.summary import summary


async def _selection(request: web.Request, filters: StatsFilters, session: Any) -> Selection:
    scope = await stats_scope(session, request[OPERATOR])
    return await select_dialogs(session, filters, scope)


async def report(request: web.Request) -> web.Response:
    """GET /api/stats/dialogs: one page of the dialog report."""
    query = read_query(request, ReportQuery)
    async with request.app[SESSIONS]() as session:
        selection = await _selection(request, query, session)
        return web.json_response(await report_page(session, selection, query))


async def report_csv(request: web.Request) -> web.StreamResponse:
    """GET /api/stats/dialogs.csv: the whole report, streamed."""
    query = read_query(request, ReportQuery)
    async with request.app[SESSIONS]() as session:
        selection = await _selection(request, query, session)
        return await stream_csv(request, session, selection, query)


async def summary_view(request: web.Request) -> web.Response:
    """GET /api/stats/summary: figures in total, in and out of hours, and per group."""
    query = read_query(request, SummaryQuery)
    async with request.app[SESSIONS]() as session:
        selection = await _selection(request, query, session)
        return web.json_response(await summary(session, selection, query))


async def daily_view(request: web.Request) -> web.Response:
    """GET /api/stats/daily: dialogs per day by channel, first response per day."""
    query = read_query(request, StatsFilters)
    async with request.app[SESSIONS]() as session:
        selection = await _selection(request, query, session)
        return web.json_response(await daily(session, selection))


async def heatmap_view(request: web.Request) -> web.Response:
    """GET /api/stats/heatmap: incoming dialogs by local weekday and hour."""
    query = read_query(request, StatsFilters)
    async with request.app[SESSIONS]() as session:
        selection = await _selection(request, query, session)
        return web.json_response(await heatmap(session, selection))


QUERY_MODELS: dict[Callable[..., Any], type[BaseModel]] = {
    report: ReportQuery,
    report_csv: ReportQuery,
    summary_view: SummaryQuery,
    daily_view: StatsFilters,
    heatmap_view: StatsFilters,
}
"""The model that validates each handler's query string (read by operator_console/openapi)."""


def routes() -> list[web.AbstractRouteDef]:
    """The statistics routes."""
    return [
        web.get("/api/stats/dialogs", report),
        web.get("/api/stats/dialogs.csv", report_csv),
        web.get("/api/stats/summary", summary_view),
        web.get("/api/stats/daily", daily_view),
        web.get("/api/stats/heatmap", heatmap_view),
    ]
