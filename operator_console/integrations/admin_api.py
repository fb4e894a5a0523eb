"""Admin endpoints of integrations: API tokens, event webhooks and their delivery log.

A token's and a webhook secret's plain value is in the answer that creates it and nowhere
else afterwards: the token is kept only as a hash, the secret is never listed again.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import Field, field_validator
from sqlalchemy import delete, select

from core.app_keys import SECRET_KEY, SESSIONS
from core.db.integrations_schema import ApiToken, Webhook, WebhookAttempt
from core.envelope import HookEventName, utcnow
from operator_console.auth import require_role
from operator_console.bodies import Body, path_row, read_body
from operator_console.integrations.delivery_log import attempt_json
from operator_console.integrations.tokens import Scope, new_token, token_digest

DELIVERIES_SHOWN = 100


def check_url(value: str) -> str:
    """``value`` when it is an http(s) URL with a host; ValueError otherwise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    return value


class TokenBody(Body):
    """A new API token."""

    name: str = Field(min_length=1, max_length=128)
    scopes: list[Scope] = Field(min_length=1)


class WebhookBody(Body):
    """A new webhook."""

    name: str = Field(min_length=1, max_length=128)
    url: str = Field(min_length=1, max_length=2048)
    events: list[HookEventName] = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_url(value)


class WebhookEditBody(Body):
    """A change to a webhook; what is left out stays."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[HookEventName] | None = Field(default=None, min_length=1)
    active: bool | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)


def token_json(token: ApiToken) -> dict[str, Any]:
    """A token as the admin screen lists it (never its value)."""
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "scopes": token.scopes,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def webhook_json(hook: Webhook) -> dict[str, Any]:
    """A webhook as the admin screen lists it (never its secret)."""
    return {
        "id": hook.id,
        "name": hook.name,
        "url": hook.url,
        "events": hook.events,
        "active": hook.active,
        "created_at": hook.created_at.isoformat(),
    }


async def list_tokens(request: web.Request) -> web.Response:
    """GET /api/admin/tokens: every token, newest first, revoked ones included."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session:
        rows = await session.scalars(select(ApiToken).order_by(ApiToken.id.desc()))
        return web.json_response({"tokens": [token_json(t) for t in rows]})


async def create_token(request: web.Request) -> web.Response:
    """POST /api/admin/tokens: a new token acting as the caller; its value is shown once."""
    me = require_role(request, "admin")
    body = await read_body(request, TokenBody)
    value = new_token()
    token = ApiToken(
        name=body.name,
        token_hash=token_digest(request.app[SECRET_KEY], value),
        prefix=value[:8],
        scopes=sorted(set(body.scopes)),
        operator_id=me.id,
        created_at=utcnow(),
    )
    async with request.app[SESSIONS]() as session, session.begin():
        session.add(token)
        await session.flush()
        view = token_json(token)
    return web.json_response({"token": view, "value": value}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    """POST /api/admin/tokens/{token_id}/revoke: the token stops working at once."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session, session.begin():
        token = await path_row(session, request, ApiToken, "token_id")
        token.revoked_at = token.revoked_at or utcnow()
        await session.flush()
        return web.json_response({"token": token_json(token)})


async def list_webhooks(request: web.Request) -> web.Response:
    """GET /api/admin/webhooks."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session:
        rows = await session.scalars(select(Webhook).order_by(Webhook.id))
        return web.json_response({"webhooks": [webhook_json(h) for h in rows]})


async def create_webhook(request: web.Request) -> web.Response:
    """POST /api/admin/webhooks: its signing secret is shown once, in this answer."""
    require_role(request, "admin")
    body = await read_body(request, WebhookBody)
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(
        name=body.name,
        url=body.url,
        secret=secret,
        events=sorted(set(body.events)),
        active=True,
        created_at=utcnow(),
    )
    async with request.app[SESSIONS]() as session, session.begin():
        session.add(hook)
        await session.flush()
        view = webhook_json(hook)
    return web.json_response({"webhook": view, "secret": secret}, status=201)


async def edit_webhook(request: web.Request) -> web.Response:
    """PATCH /api/admin/webhooks/{webhook_id}: rename, move, resubscribe, pause or resume."""
    require_role(request, "admin")
    body = await read_body(request, WebhookEditBody)
    async with request.app[SESSIONS]() as session, session.begin():
        hook = await path_row(session, request, Webhook, "webhook_id")
        for field, value in body.model_dump(exclude_none=True).items():
            setattr(hook, field, sorted(set(value)) if field == "events" else value)
        await session.flush()
        return web.json_response({"webhook": webhook_json(hook)})


async def delete_webhook(request: web.Request) -> web.Response:
    """DELETE /api/admin/webhooks/{webhook_id}: with its delivery log."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session, session.begin():
        hook = await path_row(session, request, Webhook, "webhook_id")
        await session.execute(delete(WebhookAttempt).where(WebhookAttempt.webhook_id == hook.id))
        await session.delete(hook)
    return web.Response(status=204)


async def list_deliveries(request: web.Request) -> web.Response:
    """GET /api/admin/webhooks/{webhook_id}/deliveries: the latest deliveries, newest first,
    with each one's tries and the last answer."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session:
        hook = await path_row(session, request, Webhook, "webhook_id")
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.webhook_id == hook.id)
            .order_by(WebhookAttempt.id.desc())
            .limit(DELIVERIES_SHOWN)
        )
        return web.json_response({"deliveries": [attempt_json(r) for r in rows]})


def routes() -> list[web.AbstractRouteDef]:
    """The integration admin routes."""
    return [
        web.get("/api/admin/tokens", list_tokens),
        web.post("/api/admin/tokens", create_token),
        web.post("/api/admin/tokens/{token_id}/revoke", revoke_token),
        web.get("/api/admin/webhooks", list_webhooks),
        web.post("/api/admin/webhooks", create_webhook),
        web.patch("/api/admin/webhooks/{webhook_id}", edit_webhook),
        web.delete("/api/admin/webhooks/{webhook_id}", delete_webhook),
        web.get("/api/admin/webhooks/{webhook_id}/deliveries", list_deliveries),
    ]
