"""Console authentication: argon2 password hashes, and sessions held in the database."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, inspect, select

from core.app_keys import SECRET_KEY, SESSIONS
from core.db import SessionMaker
from core.db.listening import listening
from core.db.schema import ConsoleSession, Operator
from core.envelope import utcnow
from core.roles import READ_ONLY_ROLES
from operator_console.integrations.tokens import ANY_TOKEN, API_TOKEN, find_token, scope_needed
from operator_console.keys import OPERATOR

COOKIE = "openlines_session"
PUBLIC_API = frozenset({"/api/login"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_MAY = frozenset({"/api/logout"})
"""State-changing endpoints a read-only role may still call: ending their own session."""

_hasher = PasswordHasher()
ARGON2_WORKERS = 2
ARGON2 = ThreadPoolExecutor(max_workers=ARGON2_WORKERS, thread_name_prefix="argon2")
"""Where the console hashes and checks passwords. Argon2 takes tens of milliseconds of CPU and
64 MiB a call, on purpose: on the event loop every login held up each socket and request of
the process that long. Two at a time (argon2 lets go of the interpreter lock, so they run
beside the loop): a burst of logins waits its turn here instead of taking the machine's
memory."""

CACHE_SECONDS = 5.0
"""How long the operator of a console session is kept (see ``SessionCache``)."""
CACHE_SIZE = 4096
"""How many sessions are kept at most."""


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def check_password_of_unknown(password: str) -> bool:
    """Spend the time of a real check, so an unknown login cannot be told apart by timing."""
    check_password(_dummy_hash(), password)
    return False


def check_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def password_matches(stored_hash: str | None, password: str) -> bool:
    """``check_password`` off the event loop (``ARGON2``); with no hash (an unknown login),
    the time of a real check and False."""
    loop = asyncio.get_running_loop()
    if stored_hash is None:
        return await loop.run_in_executor(ARGON2, check_password_of_unknown, password)
    return await loop.run_in_executor(ARGON2, check_password, stored_hash, password)


async def hashed_password(password: str) -> str:
    """``hash_password`` off the event loop (``ARGON2``)."""
    return await asyncio.get_running_loop().run_in_executor(ARGON2, hash_password, password)


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


class SessionCache:
    """The operators of live console sessions, each kept for a few seconds.

    Every console request reads its session's operator, and the console asks several times a
    second per operator, so the answer is kept ``seconds`` (this process only: a cache is no
    shared state). Logging out here forgets the token; a change to the operator's row in this
    process (role, password, disabling) forgets the operator while ``watching_operators``;
    elsewhere a change shows within ``seconds``.
    """

    def __init__(
        self, sessions: SessionMaker, seconds: float = CACHE_SECONDS, size: int = CACHE_SIZE
    ) -> None:
        self.sessions = sessions
        self.seconds = seconds
        self.size = size
        self._known: OrderedDict[str, tuple[float, Operator]] = OrderedDict()

    async def operator(self, token: str) -> Operator | None:
        """The operator a live session token belongs to."""
        digest = _digest(token)
        hit = self._known.get(digest)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        now = utcnow()
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(Operator, ConsoleSession.expires_at)
                    .join(ConsoleSession, ConsoleSession.operator_id == Operator.id)
                    .where(ConsoleSession.token_hash == digest, ConsoleSession.expires_at > now)
                )
            ).first()
        if row is None:
            self._known.pop(digest, None)
            return None
        operator, expires_at = row
        # Never past the session's own end.
        ttl = min(self.seconds, (expires_at - now).total_seconds())
        self._known[digest] = (time.monotonic() + ttl, operator)
        self._known.move_to_end(digest)
        while len(self._known) > self.size:
            self._known.popitem(last=False)
        return operator

    def forget_token(self, token: str) -> None:
        """Drop one session, so its next request reads the database again."""
        self._known.pop(_digest(token), None)

    def forget_operator(self, operator_id: int) -> None:
        """Drop the sessions of an operator, so the next request reads the row again."""
        for key in [k for k, (_until, op) in self._known.items() if op.id == operator_id]:
            del self._known[key]

    @contextlib.contextmanager
    def watching_operators(self) -> Iterator[None]:
        """Forget an operator whenever their row is changed or deleted in this process."""
        with (
            listening(Operator, ("after_update",), self._operator_updated),
            listening(Operator, ("after_delete",), self._operator_deleted),
        ):
            yield

    def _operator_updated(self, _mapper: Any, _connection: Any, target: Operator) -> None:
        # A role changed or an account disabled (admin_api) must not wait for the cache. The
        # router's own bookkeeping is no such change: it sets ``last_assigned_at`` with every
        # dialog it gives out (often to the value it had, which still counts as an update), and
        # forgetting then made each operator's next request read the row again.
        state = inspect(target)
        if any(
            attr.history.has_changes() for attr in state.attrs if attr.key not in ROUTER_BOOKKEEPING
        ):
            self.forget_operator(target.id)

    def _operator_deleted(self, _mapper: Any, _connection: Any, target: Operator) -> None:
        self.forget_operator(target.id)


ROUTER_BOOKKEEPING = frozenset({"status", "last_assigned_at"})
"""Operator columns the router keeps as it works; a request's check of its caller reads none
of them from the cache (``GET /api/me`` reads the presence afresh)."""

SESSION_CACHE = web.AppKey("session_cache", SessionCache)
"""The session cache of this application."""


async def session_cache(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` step: the application's session cache, watching operator rows."""
    cache = SessionCache(app[SESSIONS])
    app[SESSION_CACHE] = cache
    with cache.watching_operators():
        yield


async def do_end_session(cache: SessionCache, token: str) -> None:
    """Log a session out: forgotten at once here, and deleted from the database."""
    cache.forget_token(token)
    async with cache.sessions() as session, session.begin():
        await session.execute(
            delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token))
        )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def require_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every /api endpoint but login needs a valid session cookie or API token."""
    if request.path.startswith("/api/") and request.path not in PUBLIC_API:
        bearer = request.headers.get("Authorization", "")
        if bearer[:7].lower() == "bearer ":
            return await _with_token(request, handler, bearer[7:].strip())
        token = request.cookies.get(COOKIE, "")
        operator = await request.app[SESSION_CACHE].operator(token) if token else None
        if operator is None:
            return web.json_response({"error": "not logged in"}, status=401)
        request[OPERATOR] = operator
    return await handler(request)


async def _with_token(request: web.Request, handler: Handler, token: str) -> web.StreamResponse:
    """Serve a request made with an API token: as its admin, within its scopes."""
    found = await find_token(request.app[SESSIONS], request.app[SECRET_KEY], token)
    if found is None:
        return web.json_response({"error": "unknown or revoked API token"}, status=401)
    grant, operator = found
    needed = scope_needed(request.method, request.path)
    if needed is None or (needed != ANY_TOKEN and needed not in grant.scopes):
        reason = f"this API token lacks the scope {needed}" if needed else "not open to API tokens"
        return web.json_response({"error": reason}, status=403)
    request[OPERATOR] = operator
    request[API_TOKEN] = grant
    return await handler(request)


@web.middleware
async def refuse_read_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A read-only role (an analyst) gets 403 from every state-changing /api endpoint.

    One rule at the edge rather than a check in each handler, so an endpoint added later is
    closed to them too.
    """
    operator = request.get(OPERATOR)
    if (
        operator is not None
        and operator.role in READ_ONLY_ROLES
        and request.method not in SAFE_METHODS
        and request.path not in READ_ONLY_MAY
    ):
        return web.json_response(
            {"error": "your role reads statistics and changes nothing"}, status=403
        )
    return await handler(request)


def http_error(kind: type[web.HTTPException], reason: str) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": reason}``."""
    return kind(text=json.dumps({"error": reason}), content_type="application/json")


def refusal_reason(exc: web.HTTPException) -> str:
    """The reason an ``http_error`` gives, for an answer that is not an HTTP response."""
    try:
        reason = json.loads(exc.text or "")["error"]
    except (ValueError, KeyError, TypeError):
        return exc.reason
    return reason if isinstance(reason, str) else exc.reason


def require_role(request: web.Request, *roles: str) -> Operator:
    """The caller, or 403 when their role is not among ``roles``."""
    operator = request[OPERATOR]
    if operator.role not in roles:
        raise http_error(web.HTTPForbidden, "your role may not do this")
    return operator
