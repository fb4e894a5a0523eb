"""Admin endpoints for the accounts of messaging platforms (docs/PROTOCOL.md, "Admin: channels").

Telegram bots, VK communities and Viber bots are added, edited, disabled and enabled here. A
config is checked with the connector's own model (``TelegramConfig``, ``VkConfig``,
``ViberConfig``), so the console accepts exactly what the connector can run. Secrets leave the
hub masked. Every write is followed by a ``channels.changed`` notice, so running connectors
load the change without a restart.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.accounts import do_announce_change
from connectors.telegram.parse import TelegramConfig
from connectors.viber.parse import ViberConfig
from connectors.vk.parse import VkConfig
from core.db.schema import Channel, Line
from operator_console.auth import http_error, require_role
from operator_console.keys import BUS, SESSIONS

CONFIGS: dict[str, type[BaseModel]] = {
    "telegram": TelegramConfig,
    "vk": VkConfig,
    "viber": ViberConfig,
}
"""The kinds managed here, each with the connector's own config model."""

SECRETS: dict[str, frozenset[str]] = {
    "telegram": frozenset({"token", "webhook_secret"}),
    "vk": frozenset({"token", "secret"}),
    "viber": frozenset({"token"}),
}
"""Config fields that are never sent back in full."""

MASK = "••••"
KEY = r"^[A-Za-z0-9_-]{1,64}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateBody(_Body):
    kind: str = Field(pattern=r"^(telegram|vk|viber)$")
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=255)
    line_id: int
    config: dict[str, Any]


class EditBody(_Body):
    key: str | None = Field(default=None, pattern=KEY)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    line_id: int | None = None
    config: dict[str, Any] | None = None
    """Fields to change; a field left out keeps its value (so secrets need not be resent)."""


def _bad(where: str, exc: ValidationError) -> web.HTTPException:
    first = exc.errors()[0]
    path = ".".join(str(p) for p in (where, *first["loc"]) if p != "")
    return http_error(web.HTTPBadRequest, f"{path or 'body'}: {first['msg']}")


B = TypeVar("B", bound=_Body)


async def _body(request: web.Request, model: type[B]) -> B:
    try:
        return model.model_validate_json(await request.read() or b"{}")
    except ValidationError as exc:
        raise _bad("", exc) from exc


def check_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config as the connector will read it, or 400 naming the first bad field."""
    try:
        model = CONFIGS[kind].model_validate(config)
    except ValidationError as exc:
        raise _bad("config", exc) from exc
    return model.model_dump(mode="json")


def mask(value: Any) -> str:
    """A secret as the console shows it: only its last four characters, and only when long."""
    text = str(value or "")
    if not text:
        return ""
    return MASK + text[-4:] if len(text) >= 16 else MASK


def channel_json(channel: Channel) -> dict[str, Any]:
    """The admin view of an account, secrets masked."""
    hidden = SECRETS.get(channel.kind, frozenset())
    config = {k: mask(v) if k in hidden else v for k, v in (channel.config or {}).items()}
    return {
        "id": channel.id,
        "kind": channel.kind,
        "key": channel.key,
        "name": channel.name,
        "line_id": channel.line_id,
        "enabled": channel.enabled,
        "config": config,
        "secret_fields": sorted(hidden),
        "webhook_path": f"/hooks/{channel.kind}/{channel.key}",
    }


async def _check_refs(session: AsyncSession, key: str | None, line_id: int | None,
                      channel_id: int | None = None) -> None:
    if line_id is not None and await session.get(Line, line_id) is None:
        raise http_error(web.HTTPBadRequest, "line_id: no such line")
    if key is not None:
        other = await session.scalar(select(Channel.id).where(Channel.key == key))
        if other is not None and other != channel_id:
            raise http_error(web.HTTPConflict, "key: another channel uses this key")


async def _managed(session: AsyncSession, request: web.Request) -> Channel:
    try:
        channel_id = int(request.match_info["channel_id"])
    except ValueError:
        raise http_error(web.HTTPNotFound, "no such channel") from None
    channel = await session.get(Channel, channel_id)
    if channel is None or channel.kind not in CONFIGS:
        raise http_error(web.HTTPNotFound, "no such channel")
    return channel


async def list_channels(request: web.Request) -> web.Response:
    """GET /api/admin/channels: every Telegram, VK and Viber account."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session:
        rows = await session.scalars(
            select(Channel).where(Channel.kind.in_(CONFIGS)).order_by(Channel.id)
        )
        lines = await session.execute(select(Line.id, Line.name).order_by(Line.id))
        return web.json_response({
            "channels": [channel_json(c) for c in rows],
            "lines": [{"id": i, "name": n} for i, n in lines],
            "kinds": sorted(CONFIGS),
        })


async def create_channel(request: web.Request) -> web.Response:
    """POST /api/admin/channels: add an account (enabled at once)."""
    require_role(request, "admin")
    body = await _body(request, CreateBody)
    config = check_config(body.kind, body.config)
    async with request.app[SESSIONS]() as session, session.begin():
        await _check_refs(session, body.key, body.line_id)
        channel = Channel(kind=body.kind, key=body.key, name=body.name, line_id=body.line_id,
                          config=config, enabled=True)
        session.add(channel)
        await session.flush()
        view = channel_json(channel)
    await do_announce_change(request.app[BUS], view["id"], body.kind)
    return web.json_response({"channel": view}, status=201)


async def edit_channel(request: web.Request) -> web.Response:
    """PATCH /api/admin/channels/{id}: change the key, name, line or config fields."""
    require_role(request, "admin")
    body = await _body(request, EditBody)
    async with request.app[SESSIONS]() as session, session.begin():
        channel = await _managed(session, request)
        await _check_refs(session, body.key, body.line_id, channel.id)
        if body.config is not None:
            # A masked secret sent back unchanged means "keep it", never "set it to ••••".
            changes = {
                k: v
                for k, v in body.config.items()
                if not (isinstance(v, str) and v.startswith(MASK))
            }
            # A new dict, so the JSON column sees the change.
            channel.config = check_config(channel.kind, {**(channel.config or {}), **changes})
        if body.key is not None:
            channel.key = body.key
        if body.name is not None:
            channel.name = body.name
        if body.line_id is not None:
            channel.line_id = body.line_id
        await session.flush()
        view = channel_json(channel)
    await do_announce_change(request.app[BUS], view["id"], view["kind"])
    return web.json_response({"channel": view})


async def _set_enabled(request: web.Request, enabled: bool) -> web.Response:
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session, session.begin():
        channel = await _managed(session, request)
        channel.enabled = enabled
        await session.flush()
        view = channel_json(channel)
    await do_announce_change(request.app[BUS], view["id"], view["kind"])
    return web.json_response({"channel": view})


async def disable_channel(request: web.Request) -> web.Response:
    """POST /api/admin/channels/{id}/disable: its webhook answers 404 and its poller stops."""
    return await _set_enabled(request, False)


async def enable_channel(request: web.Request) -> web.Response:
    """POST /api/admin/channels/{id}/enable."""
    return await _set_enabled(request, True)


def routes() -> list[web.AbstractRouteDef]:
    """The channel admin routes."""
    return [
        web.get("/api/admin/channels", list_channels),
        web.post("/api/admin/channels", create_channel),
        web.patch("/api/admin/channels/{channel_id}", edit_channel),
        web.post("/api/admin/channels/{channel_id}/disable", disable_channel),
        web.post("/api/admin/channels/{channel_id}/enable", enable_channel),
    ]
