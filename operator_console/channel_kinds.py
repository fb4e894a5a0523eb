"""The channel kinds the console's channel admin manages, as the registry describes them.

Each kind's package (``connectors/<kind>``) says what its accounts need: the config model the
connector runs with, the secret fields (masked on the way out, kept on a PATCH that sends the
mask back), the lines a config refers to, and the extra addresses an admin needs (a webhook
path, a web chat's page and embed snippet). This module applies them; it knows no kind by name.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from connectors.base import ChannelKind
from connectors.health import Health
from connectors.registry import KINDS
from core.db.schema import Channel

MASK = "••••"
KIND_PATTERN = "^(" + "|".join(KINDS) + ")$"


class ConfigError(Exception):
    """A config the connector would refuse; ``field`` is the dotted path under ``config``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config as the connector will read it (defaults filled), or ConfigError."""
    try:
        model = KINDS[kind].config.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in ("config", *first["loc"]))
        raise ConfigError(path, first["msg"]) from exc
    return _stored(model)


def _stored(model: BaseModel) -> dict[str, Any]:
    # A JSON dump writes SecretStr as "**********"; the database must keep the real value.
    data = model.model_dump(mode="json")
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            data[name] = value.get_secret_value()
    return data


def line_refs(kind: str, config: dict[str, Any]) -> dict[str, str]:
    """Line ids a checked config names, by the config path that names them.

    An email account routes mail to other lines by its rules and styles replies per line; a
    typo there would surface only when a mail arrives, so the admin API checks them up front.
    """
    return KINDS[kind].line_refs(config)


def mask(value: Any) -> str | None:
    """A secret as the console shows it: only its last four characters, and only when long.

    An unset optional secret (an email account's own SMTP password) stays None, so the admin
    sees that it is unset rather than a mask of nothing.
    """
    if value is None:
        return None
    text = str(value)
    if not text:
        return ""
    return MASK + text[-4:] if len(text) >= 16 else MASK


def keep_masked(changes: dict[str, Any]) -> dict[str, Any]:
    """PATCH config fields without the masked ones: a mask sent back means "keep the secret"."""
    return {k: v for k, v in changes.items() if not (isinstance(v, str) and v.startswith(MASK))}


def kind_json(kind: ChannelKind) -> dict[str, Any]:
    """What the console shows of a kind: its label and capabilities, its secret fields, and
    whether the platform reaches it by webhook."""
    return {
        **asdict(kind.capabilities),
        "secret_fields": sorted(kind.secrets),
        "webhook": kind.webhook,
    }


def kinds_json() -> dict[str, dict[str, Any]]:
    """Every registered kind's ``kind_json``, by kind."""
    return {name: kind_json(kind) for name, kind in KINDS.items()}


def health_json(enabled: bool, health: Health) -> dict[str, Any]:
    """A channel's status as the console shows it: ``disabled``, ``error`` (with the platform's
    last complaint and when), or ``ok``; and when it last heard from and wrote to the platform."""
    status = "disabled" if not enabled else "error" if health.error else "ok"
    return {
        "status": status,
        "error": health.error or None,
        "error_at": _iso(health.error_at),
        "last_in": _iso(health.last_in),
        "last_out": _iso(health.last_out),
        "webhook": health.webhook or None,
    }


def _iso(unix: float | None) -> str | None:
    return datetime.fromtimestamp(unix, UTC).isoformat() if unix else None


def _with_defaults(channel: Channel) -> dict[str, Any]:
    """The stored config with the defaults of fields added since it was saved, so that the
    form shows, and saves back, what the connector runs with; as stored if it no longer
    validates (the connector reports that itself)."""
    stored = dict(channel.config or {})
    try:
        return {**check_config(channel.kind, stored), **stored}
    except ConfigError:
        return stored


def channel_json(channel: Channel, public_url: str, health: Health | None = None) -> dict[str, Any]:
    """The admin view of an account: secrets masked, the addresses the admin needs, and how the
    channel is doing."""
    kind = KINDS[channel.kind]
    config = {k: mask(v) if k in kind.secrets else v for k, v in _with_defaults(channel).items()}
    view: dict[str, Any] = {
        "id": channel.id,
        "kind": channel.kind,
        "key": channel.key,
        "name": channel.name,
        "line_id": channel.line_id,
        "enabled": channel.enabled,
        "config": config,
        "secret_fields": sorted(kind.secrets),
        "webhook_path": f"/hooks/{channel.kind}/{channel.key}" if kind.webhook else None,
    }
    view.update(kind.links(channel.key, public_url))
    view["health"] = health_json(channel.enabled, health or Health())
    return view
