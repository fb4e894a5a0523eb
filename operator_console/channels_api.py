"""Admin endpoints for channel accounts (docs/PROTOCOL.md, "Admin: channels").

Telegram bots, VK communities, Viber bots, email mailboxes and web chats are added, edited,
disabled and enabled here. A config is checked with the connector's own model (see
``connectors.registry``), so the console accepts exactly what the connector can run.
Secrets leave the hub masked. Every write is followed by a ``channels.changed`` notice, so
running connectors load the change without a restart.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.accounts import do_announce_change
from connectors.base import LoadsAccounts
from connectors.checks import AccountCheck
from connectors.health import Health, read_health
from connectors.registry import KINDS
from core.app_keys import BUS, REDIS, SESSIONS
from core.db.schema import Channel, Line
from core.limits import RowId, parse_row_id
from operator_console import channel_kinds
from operator_console.auth import http_error, require_role
from operator_console.bodies import Body, path_id, read_body
from operator_console.channel_kinds import KIND_PATTERN, ConfigError
from operator_console.keys import CHANNELS, SETTINGS

KEY = r"^[A-Za-z0-9_-]{1,64}$"


class CreateBody(Body):
    kind: str = Field(pattern=KIND_PATTERN)
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=255)
    line_id: RowId
    config: dict[str, Any] = Field(default_factory=dict)
    """Optional only for kinds whose model needs nothing (a web chat)."""


class EditBody(Body):
    key: str | None = Field(default=None, pattern=KEY)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    line_id: RowId | None = None
    config: dict[str, Any] | None = None
    """Fields to change; a field left out keeps its value (so secrets need not be resent)."""


def check_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config as the connector will read it, or 400 naming the first bad field."""
    try:
        return channel_kinds.check_config(kind, config)
    except ConfigError as exc:
        raise http_error(web.HTTPBadRequest, str(exc)) from exc


def _public_url(request: web.Request) -> str:
    # The configured address wins (a proxy in front); else the one this request came by.
    return request.app[SETTINGS].public_url.rstrip("/") or str(request.url.origin())


def channel_json(
    request: web.Request, channel: Channel, health: Health | None = None
) -> dict[str, Any]:
    """The admin view of an account, secrets masked."""
    return channel_kinds.channel_json(channel, _public_url(request), health)


async def _health(request: web.Request, channel: Channel) -> Health:
    return (await read_health(request.app[REDIS], [channel.id]))[channel.id]


async def _ask_platform(request: web.Request, kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The platform's word on a config's credentials; 400 naming the field when it refuses
    them. A platform out of reach does not stop the save (the answer says so)."""
    checker = KINDS[kind].check
    if checker is None:
        return AccountCheck().as_json()
    check = await checker(request.app[SETTINGS], config, False)
    if check.refused:
        raise http_error(web.HTTPBadRequest, f"config.{check.field}: {check.refused}")
    return check.as_json()


async def _load_here(request: web.Request, kind: str) -> None:
    """This process's connector of ``kind`` reads the change before the answer goes out, so a
    platform told about a new account at once finds it (others hear the notice)."""
    for connector in request.app.get(CHANNELS, []):
        if connector.kind == kind and isinstance(connector, LoadsAccounts):
            await connector.load_accounts()


async def _check_refs(
    session: AsyncSession, key: str | None, line_id: int | None, channel_id: int | None = None
) -> None:
    if line_id is not None and await session.get(Line, line_id) is None:
        raise http_error(web.HTTPBadRequest, "line_id: no such line")
    if key is not None:
        other = await session.scalar(select(Channel.id).where(Channel.key == key))
        if other is not None and other != channel_id:
            raise http_error(web.HTTPConflict, "key: another channel uses this key")


async def _check_lines(session: AsyncSession, kind: str, config: dict[str, Any]) -> None:
    """400 for a line a config names (an email routing rule, a per-line style) that is gone."""
    for path, ref in channel_kinds.line_refs(kind, config).items():
        line_id = parse_row_id(ref)
        if line_id is None or await session.get(Line, line_id) is None:
            raise http_error(web.HTTPBadRequest, f"{path}: no such line")


async def _managed(session: AsyncSession, request: web.Request) -> Channel:
    channel_id = path_id(request, "channel_id")
    channel = await session.get(Channel, channel_id)
    if channel is None or channel.kind not in KINDS:
        raise http_error(web.HTTPNotFound, "no such channel")
    return channel


async def list_channels(request: web.Request) -> web.Response:
    """GET /api/admin/channels: every managed account, of every kind."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session:
        rows = await session.scalars(
            select(Channel).where(Channel.kind.in_(KINDS)).order_by(Channel.id)
        )
        channels = list(rows)
        lines = await session.execute(select(Line.id, Line.name).order_by(Line.id))
        health = await read_health(request.app[REDIS], [c.id for c in channels])
        return web.json_response(
            {
                "channels": [channel_json(request, c, health[c.id]) for c in channels],
                "lines": [{"id": i, "name": n} for i, n in lines],
                "kinds": sorted(KINDS),
                "kind_info": channel_kinds.kinds_json(),
            }
        )


async def list_kinds(request: web.Request) -> web.Response:
    """GET /api/channel-kinds: every kind's label and capabilities, for any signed-in user
    (the console names a dialog's channel with them)."""
    return web.json_response({"kinds": channel_kinds.kinds_json()})


async def create_channel(request: web.Request) -> web.Response:
    """POST /api/admin/channels: add an account (enabled at once)."""
    require_role(request, "admin")
    body = await read_body(request, CreateBody)
    config = check_config(body.kind, body.config)
    check = await _ask_platform(request, body.kind, config)
    async with request.app[SESSIONS]() as session, session.begin():
        await _check_refs(session, body.key, body.line_id)
        await _check_lines(session, body.kind, config)
        channel = Channel(
            kind=body.kind,
            key=body.key,
            name=body.name,
            line_id=body.line_id,
            config=config,
            enabled=True,
        )
        session.add(channel)
        await session.flush()
        view = channel_json(request, channel)
    await _load_here(request, body.kind)
    await do_announce_change(request.app[BUS], view["id"], body.kind)
    return web.json_response({"channel": view, "check": check}, status=201)


async def edit_channel(request: web.Request) -> web.Response:
    """PATCH /api/admin/channels/{id}: change the key, name, line or config fields."""
    require_role(request, "admin")
    body = await read_body(request, EditBody)
    check: dict[str, Any] | None = None
    if body.config is not None:
        # Asked before the transaction: a slow platform must not hold the database.
        async with request.app[SESSIONS]() as session:
            stored = await _managed(session, request)
            config = _edited(stored, body.config)
        check = await _ask_platform(request, stored.kind, config)
    async with request.app[SESSIONS]() as session, session.begin():
        channel = await _managed(session, request)
        await _check_refs(session, body.key, body.line_id, channel.id)
        if body.config is not None:
            channel.config = _edited(channel, body.config)
            await _check_lines(session, channel.kind, channel.config)
        if body.key is not None:
            channel.key = body.key
        if body.name is not None:
            channel.name = body.name
        if body.line_id is not None:
            channel.line_id = body.line_id
        await session.flush()
        view = channel_json(request, channel, await _health(request, channel))
    await _load_here(request, view["kind"])
    await do_announce_change(request.app[BUS], view["id"], view["kind"])
    return web.json_response({"channel": view, "check": check})


def _edited(channel: Channel, changes: dict[str, Any]) -> dict[str, Any]:
    # A masked secret sent back unchanged means "keep it", never "set it to ••••"; a new dict,
    # so the JSON column sees the change.
    kept = channel_kinds.keep_masked(changes)
    return check_config(channel.kind, {**(channel.config or {}), **kept})


async def _set_enabled(request: web.Request, enabled: bool) -> web.Response:
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session, session.begin():
        channel = await _managed(session, request)
        channel.enabled = enabled
        await session.flush()
        view = channel_json(request, channel, await _health(request, channel))
    await _load_here(request, view["kind"])
    await do_announce_change(request.app[BUS], view["id"], view["kind"])
    return web.json_response({"channel": view})


async def disable_channel(request: web.Request) -> web.Response:
    """POST /api/admin/channels/{id}/disable: webhooks answer 404, pollers and mailboxes stop,
    a web chat's page answers 404 and its open sockets are closed."""
    return await _set_enabled(request, False)


async def enable_channel(request: web.Request) -> web.Response:
    """POST /api/admin/channels/{id}/enable."""
    return await _set_enabled(request, True)


async def check_channel(request: web.Request) -> web.Response:
    """GET /api/admin/channels/{id}/check: the platform's view of the account now (the bot's
    name, Telegram's getWebhookInfo with its last error) and the channel's health."""
    require_role(request, "admin")
    async with request.app[SESSIONS]() as session:
        channel = await _managed(session, request)
    checker = KINDS[channel.kind].check
    check = AccountCheck()
    if checker is not None:
        check = await checker(request.app[SETTINGS], dict(channel.config or {}), True)
    view = channel_json(request, channel, await _health(request, channel))
    return web.json_response({"channel": view, "check": check.as_json()})


def routes() -> list[web.AbstractRouteDef]:
    """The channel admin routes."""
    return [
        web.get("/api/channel-kinds", list_kinds),
        web.get("/api/admin/channels", list_channels),
        web.post("/api/admin/channels", create_channel),
        web.patch("/api/admin/channels/{channel_id}", edit_channel),
        web.post("/api/admin/channels/{channel_id}/disable", disable_channel),
        web.post("/api/admin/channels/{channel_id}/enable", enable_channel),
        web.get("/api/admin/channels/{channel_id}/check", check_channel),
    ]
