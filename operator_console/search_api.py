"""Full-text search over messages and clients, across channels (docs/PROTOCOL.md).

``GET /api/search`` finds messages newest first, in pages of ``limit`` with a keyset cursor
(the last message id of the page), and on the first page also the clients whose name matches.
It sees exactly what the dialog list sees (``api._visibility``): an operator their own dialogs,
those waiting on their lines and those they joined; a manager their lines; an admin all.
SQLite answers from FTS5, PostgreSQL from the ``'simple'`` tsvector GIN indexes
(``core/db/search_schema.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, Select, column, func, literal_column, or_, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from core.app_keys import SESSIONS
from core.db.crm_schema import CrmContact
from core.db.schema import Channel, Client, Dialog, Message, Operator
from core.db.search_schema import TS_CONFIG
from core.limits import parse_row_id
from operator_console.api import _visibility
from operator_console.auth import http_error
from operator_console.keys import OPERATOR
from operator_console.search_text import (
    contact_needle,
    fts5_match,
    parse_bound,
    query_words,
    snippet,
    tsquery,
)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
CLIENT_LIMIT = 10
MAX_QUERY = 200
STATUSES = ("waiting", "open", "closed")

AnySelect = Select[*tuple[Any, ...]]

_messages_fts = table("messages_fts", column("rowid"))
_clients_fts = table("clients_fts", column("rowid"))
_REGCONFIG: ColumnElement[Any] = literal_column(f"'{TS_CONFIG}'::regconfig")


@dataclass(frozen=True)
class SearchQuery:
    """A checked search request."""

    words: list[str]
    limit: int
    cursor: int | None
    filters: list[ColumnElement[bool]]
    """Conditions on ``Dialog`` and ``Channel`` from the filter parameters."""
    period: list[ColumnElement[bool]]
    """Conditions on ``Message.created_at``: messages only (a client has no date)."""
    contact: str | None = None
    """A phone's digits or an email to find among clients' contacts."""


def _int(raw: str, name: str) -> int:
    value = parse_row_id(raw)
    if value is None:
        raise http_error(web.HTTPBadRequest, f"{name}: not a whole number within 32 bits")
    return value


def check_search(params: Any) -> SearchQuery:
    """The query parameters of ``GET /api/search``, or a 400 naming the one that is wrong."""
    words = query_words(params.get("q", ""))
    if not words or len(params["q"]) > MAX_QUERY:
        raise http_error(web.HTTPBadRequest, f"q: give 1 to {MAX_QUERY} characters with a word")
    limit = _int(params.get("limit", str(DEFAULT_LIMIT)), "limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise http_error(web.HTTPBadRequest, f"limit: between 1 and {MAX_LIMIT}")
    cursor = _int(params["cursor"], "cursor") if params.get("cursor") else None
    filters: list[ColumnElement[bool]] = []
    if params.get("line"):
        filters.append(Dialog.line_id == _int(params["line"], "line"))
    if params.get("channel"):
        filters.append(Channel.kind == params["channel"])
    if params.get("operator"):
        filters.append(Dialog.operator_id == _int(params["operator"], "operator"))
    if status := params.get("status"):
        if status not in STATUSES:
            raise http_error(web.HTTPBadRequest, "status: one of " + ", ".join(STATUSES))
        filters.append(Dialog.status == status)
    period: list[ColumnElement[bool]] = []
    try:
        if params.get("from"):
            period.append(Message.created_at >= parse_bound(params["from"], "from", end=False))
        if params.get("to"):
            period.append(Message.created_at < parse_bound(params["to"], "to", end=True))
    except ValueError as exc:
        raise http_error(web.HTTPBadRequest, str(exc)) from None
    return SearchQuery(words, limit, cursor, filters, period, contact_needle(params["q"]))


def _scoped(query: AnySelect, operator: Operator, search: SearchQuery) -> AnySelect:
    rule = _visibility(operator)
    query = query.where(*search.filters)
    return query if rule is None else query.where(rule)


def _message_hits(sqlite: bool, search: SearchQuery) -> AnySelect:
    query = (
        select(Message, Dialog.line_id, Dialog.status, Channel.kind, Client.id, Client.name)
        .join(Dialog, Dialog.id == Message.dialog_id)
        .join(Channel, Channel.id == Dialog.channel_id)
        .join(Client, Client.id == Dialog.client_id)
    )
    if sqlite:
        # Driven by the FTS table, newest first, so a page reads only the rows it returns.
        query = query.join(_messages_fts, _messages_fts.c.rowid == Message.id).where(
            literal_column("messages_fts").op("MATCH")(fts5_match(search.words))
        )
        order: Any = _messages_fts.c.rowid
    else:
        query = query.where(
            func.to_tsvector(_REGCONFIG, Message.text).op("@@")(
                func.to_tsquery(_REGCONFIG, tsquery(search.words))
            )
        )
        order = Message.id
    query = query.where(*search.period)
    if search.cursor is not None:
        query = query.where(order < search.cursor)
    return query.order_by(order.desc()).limit(search.limit + 1)


def _client_hits(sqlite: bool, search: SearchQuery) -> AnySelect:
    if sqlite:
        matching: ColumnElement[bool] = Client.id.in_(
            select(_clients_fts.c.rowid).where(
                literal_column("clients_fts").op("MATCH")(fts5_match(search.words))
            )
        )
    else:
        matching = func.to_tsvector(_REGCONFIG, Client.name).op("@@")(
            func.to_tsquery(_REGCONFIG, tsquery(search.words))
        )
    if search.contact is not None:
        matching = or_(
            matching,
            Client.id.in_(
                select(CrmContact.client_id).where(
                    CrmContact.value.contains(search.contact, autoescape=True)
                )
            ),
        )
    return (
        select(Client.id, Client.name, func.max(Dialog.id).label("dialog_id"))
        .join(Dialog, Dialog.client_id == Client.id)
        .join(Channel, Channel.id == Dialog.channel_id)
        .where(matching)
        .group_by(Client.id, Client.name)
        .order_by(func.max(Dialog.id).desc())
        .limit(CLIENT_LIMIT)
    )


def hit_json(row: Any, words: list[str]) -> dict[str, Any]:
    """One message found: where it is, and a plain-text snippet around the words."""
    message: Message = row[0]
    return {
        "message_id": message.id,
        "dialog_id": message.dialog_id,
        "author": message.author,
        "hidden": message.hidden,
        "snippet": snippet(message.text, words),
        "client_id": row.id,
        "client_name": row.name,
        "channel_kind": row.kind,
        "line_id": row.line_id,
        "dialog_status": row.status,
        "at": message.created_at.isoformat(),
    }


async def _clients(
    session: AsyncSession, sqlite: bool, operator: Operator, search: SearchQuery
) -> list[dict[str, Any]]:
    rows = (await session.execute(_scoped(_client_hits(sqlite, search), operator, search))).all()
    kinds: dict[int, tuple[str, datetime]] = {
        d: (k, at)
        for d, k, at in (
            await session.execute(
                select(Dialog.id, Channel.kind, Dialog.last_message_at)
                .join(Channel, Channel.id == Dialog.channel_id)
                .where(Dialog.id.in_([r.dialog_id for r in rows]))
            )
        ).all()
    }
    return [
        {
            "client_id": r.id,
            "client_name": r.name,
            "dialog_id": r.dialog_id,
            "channel_kind": kinds[r.dialog_id][0],
            "last_message_at": kinds[r.dialog_id][1].isoformat(),
        }
        for r in rows
    ]


async def search(request: web.Request) -> web.Response:
    """GET /api/search?q=&line=&channel=&operator=&status=&from=&to=&cursor=&limit=."""
    found = check_search(request.query)
    operator = request[OPERATOR]
    async with request.app[SESSIONS]() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        query = _scoped(_message_hits(sqlite, found), operator, found)
        rows = (await session.execute(query)).all()
        clients = [] if found.cursor else await _clients(session, sqlite, operator, found)
    page = rows[: found.limit]
    more = len(rows) > found.limit
    return web.json_response(
        {
            "hits": [hit_json(r, found.words) for r in page],
            "clients": clients,
            "next_cursor": str(page[-1][0].id) if more else None,
        }
    )


def routes() -> list[web.AbstractRouteDef]:
    """The search route."""
    return [web.get("/api/search", search)]
