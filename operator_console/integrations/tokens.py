"""API tokens: what an integration sends as ``Authorization: Bearer <token>``.

A token acts as the admin who created it, narrowed to its scopes: each scope opens a fixed set
of API routes (``ROUTE_SCOPES``), and every route not listed there is closed to tokens, so an
endpoint added later stays closed until someone decides which scope it belongs to.

Only a keyed hash of a token is stored: HMAC-SHA256 under the hub's secret key. A slow password
hash (argon2) would buy nothing here: a token is 256 random bits, far beyond any guessing, and
the slowness would be paid on every API request (and by anyone sending floods of bad tokens).
The key means a copy of the table alone cannot even confirm a guess.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from aiohttp import web
from sqlalchemy import select, update

from core.db import SessionMaker
from core.db.integrations_schema import ApiToken
from core.db.schema import Operator
from core.envelope import HookEventName, utcnow

Scope = Literal["dialogs:read", "messages:send", "clients:manage", "stats:read"]
"""What a token may do: read dialogs and messages, send messages, read and change clients
(merges included), read statistics and KPI figures."""

SCOPES: tuple[Scope, ...] = get_args(Scope)
TOKEN_PREFIX = "olt_"
"""Every token starts with this, so a leaked one is easy to spot in code or logs."""
LAST_USED_EVERY = timedelta(minutes=1)
"""How often the last use of a token is written down at most (not on every request)."""

ANY_TOKEN = "any"
"""A route any valid token may call, whatever its scopes."""

_READ = frozenset({"GET", "HEAD"})
_ANY = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
ROUTE_SCOPES: tuple[tuple[frozenset[str], re.Pattern[str], Scope | str], ...] = (
    (_READ, re.compile(r"^/api/(me|openapi\.json|integrations/events)$"), ANY_TOKEN),
    (_READ, re.compile(r"^/api/(dialogs|colleagues|channel-kinds|search)(/.*)?$"), "dialogs:read"),
    (_READ, re.compile(r"^/api/attachments/.+$"), "dialogs:read"),
    (frozenset({"POST"}), re.compile(r"^/api/dialogs/[^/]+/(messages|files)$"), "messages:send"),
    (
        _ANY,
        re.compile(r"^/api/crm/(clients|merges|not-duplicates|dialogs)(/.*)?$"),
        "clients:manage",
    ),
    (_READ, re.compile(r"^/api/(stats|kpi)/.+$"), "stats:read"),
)

EVENT_SCOPES: dict[HookEventName, Scope] = {
    "message.created": "dialogs:read",
    "message.updated": "dialogs:read",
    "dialog.opened": "dialogs:read",
    "dialog.assigned": "dialogs:read",
    "dialog.transferred": "dialogs:read",
    "dialog.closed": "dialogs:read",
    "rating.received": "dialogs:read",
    "client.created": "clients:manage",
    "client.merged": "clients:manage",
    "client.unmerged": "clients:manage",
}
"""The scope a token needs to hear an event on the realtime API."""


@dataclass(frozen=True)
class TokenGrant:
    """A valid token of the request in hand."""

    token_id: int
    name: str
    scopes: frozenset[str]


API_TOKEN = web.RequestKey("api_token", TokenGrant)
"""Set on a request authenticated by an API token instead of a session cookie."""


def new_token() -> str:
    """A fresh token: the prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(key: bytes, token: str) -> str:
    """The stored form of a token (see the module's docstring for why a keyed fast hash)."""
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def scope_needed(method: str, path: str) -> str | None:
    """The scope a token needs for ``method path``: a scope, ``ANY_TOKEN``, or None when
    no token may call it."""
    for methods, pattern, scope in ROUTE_SCOPES:
        if method in methods and pattern.match(path):
            return scope
    return None


async def find_token(
    sessions: SessionMaker, key: bytes, token: str, now: datetime | None = None
) -> tuple[TokenGrant, Operator] | None:
    """The grant and acting operator of a live token; None when unknown, revoked, or its
    admin can no longer sign in. Notes the use at most once per ``LAST_USED_EVERY``."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    now = now or utcnow()
    async with sessions() as session, session.begin():
        row = (
            await session.execute(
                select(ApiToken, Operator)
                .join(Operator, Operator.id == ApiToken.operator_id)
                .where(ApiToken.token_hash == token_digest(key, token))
                .where(ApiToken.revoked_at.is_(None))
            )
        ).first()
        if row is None:
            return None
        grant, operator = row
        # "disabled:" is admin_api.DISABLED (not imported: admin_api sits above this module).
        if operator.password_hash.startswith("disabled:") or operator.role != "admin":
            return None
        if grant.last_used_at is None or now - grant.last_used_at >= LAST_USED_EVERY:
            await session.execute(
                update(ApiToken).where(ApiToken.id == grant.id).values(last_used_at=now)
            )
        return TokenGrant(grant.id, grant.name, frozenset(grant.scopes)), operator
