"""Console authentication: argon2 password hashes, and sessions held in the database."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, event, select

from core.app_keys import SESSIONS
from core.db import SessionMaker
from core.db.schema import ConsoleSession, Operator
from core.envelope import utcnow
from operator_console.keys import OPERATOR

COOKIE = "openlines_session"
PUBLIC_API = frozenset({"/api/login"})

_hasher = PasswordHasher()

CACHE_SECONDS = 5.0
CACHE_SIZE = 4096
"""Every console request reads its session's operator; the console asks several times a second
per operator, so the answer is kept this long (this process only: a cache is no shared state).
Logging out here forgets the token; a change to the operator's row in this process (role,
password, disabling) forgets the operator; elsewhere a change shows within CACHE_SECONDS."""

_cache: OrderedDict[tuple[int, str], tuple[float, Operator]] = OrderedDict()


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    # Only a digest is stored, so a leaked table does not leak live sessions.
    return hashlib.sha256(token.encode()).hexdigest()


async def do_create_session(sessions: SessionMaker, operator_id: int, hours: int) -> str:
    """Open a console session; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with sessions() as session, session.begin():
        session.add(
            ConsoleSession(
                token_hash=_digest(token),
                operator_id=operator_id,
                created_at=now,
                expires_at=now + timedelta(hours=hours),
            )
        )
    return token


async def do_end_session(sessions: SessionMaker, token: str) -> None:
    """Log a session out."""
    _cache.pop((id(sessions), _digest(token)), None)
    async with sessions() as session, session.begin():
        await session.execute(
            delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token))
        )


async def session_operator(sessions: SessionMaker, token: str) -> Operator | None:
    """The operator a live session token belongs to."""
    # Keyed by the database too: tests run several apps in one process.
    key = (id(sessions), _digest(token))
    hit = _cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    now = utcnow()
    async with sessions() as session:
        row = (
            await session.execute(
                select(Operator, ConsoleSession.expires_at)
                .join(ConsoleSession, ConsoleSession.operator_id == Operator.id)
                .where(ConsoleSession.token_hash == key[1], ConsoleSession.expires_at > now)
            )
        ).first()
    if row is None:
        _cache.pop(key, None)
        return None
    operator, expires_at = row
    # Never past the session's own end.
    ttl = min(CACHE_SECONDS, (expires_at - now).total_seconds())
    _cache[key] = (time.monotonic() + ttl, operator)
    _cache.move_to_end(key)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return operator


def forget_operator(operator_id: int) -> None:
    """Drop the cached sessions of an operator, so the next request reads the row again."""
    for key in [k for k, (_until, op) in _cache.items() if op.id == operator_id]:
        del _cache[key]


@event.listens_for(Operator, "after_update")
@event.listens_for(Operator, "after_delete")
def _operator_changed(_mapper: Any, _connection: Any, target: Operator) -> None:
    # A role changed or an account disabled (admin_api) must not wait for the cache.
    forget_operator(target.id)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def require_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every /api endpoint but login needs a valid session cookie."""
    if request.path.startswith("/api/") and request.path not in PUBLIC_API:
        token = request.cookies.get(COOKIE, "")
        operator = await session_operator(request.app[SESSIONS], token) if token else None
        if operator is None:
            return web.json_response({"error": "not logged in"}, status=401)
        request[OPERATOR] = operator
    return await handler(request)


def http_error(kind: type[web.HTTPException], reason: str) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": reason}``."""
    return kind(text=json.dumps({"error": reason}), content_type="application/json")


def require_role(request: web.Request, *roles: str) -> Operator:
    """The caller, or 403 when their role is not among ``roles``."""
    operator = request[OPERATOR]
    if operator.role not in roles:
        raise http_error(web.HTTPForbidden, "your role may not do this")
    return operator
