"""The channel kinds the console's channel admin manages, and what each needs (PROTOCOL.md).

Each kind is checked with its connector's own config model, so the console accepts exactly what
the connector can run. This module knows per kind: the model, the secret fields (masked on the
way out, kept on a PATCH that sends the mask back), the lines a config refers to, and the extra
addresses an admin needs (a webhook path, a web chat's page and embed snippet).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from connectors.email.config import EmailAccount
from connectors.telegram.parse import TelegramConfig
from connectors.viber.parse import ViberConfig
from connectors.vk.parse import VkConfig
from core.db.schema import Channel


class WebchatConfig(BaseModel):
    """A web chat's settings; key, name and line say the rest."""

    model_config = ConfigDict(extra="forbid")
    site_secret: SecretStr | None = Field(default=None, min_length=16, max_length=256)
    """The key the website signs its logged-in users with (connectors/webchat/identity.py).
    Unset, the chat refuses site identities. At least 16 characters: it guards a strong CRM
    key that merges clients automatically."""


CONFIGS: dict[str, type[BaseModel]] = {
    "telegram": TelegramConfig,
    "vk": VkConfig,
    "viber": ViberConfig,
    "email": EmailAccount,
    "webchat": WebchatConfig,
}
"""The kinds managed here, each with the connector's own config model."""

SECRETS: dict[str, frozenset[str]] = {
    "telegram": frozenset({"token", "webhook_secret"}),
    "vk": frozenset({"token", "secret"}),
    "viber": frozenset({"token"}),
    "email": frozenset({"password", "smtp_password"}),
    "webchat": frozenset({"site_secret"}),
}
"""Config fields that are never sent back in full."""

WEBHOOK_KINDS = frozenset({"telegram", "vk", "viber"})
"""Kinds reached by the platform at ``/hooks/<kind>/<key>``; mail is fetched, web chat is ours."""

MASK = "••••"
KIND_PATTERN = "^(" + "|".join(CONFIGS) + ")$"


class ConfigError(Exception):
    """A config the connector would refuse; ``field`` is the dotted path under ``config``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config as the connector will read it (defaults filled), or ConfigError."""
    try:
        model = CONFIGS[kind].model_validate(config)
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
    if kind != "email":
        return {}
    refs = {f"config.rules.{n}.line_id": str(rule["line_id"])
            for n, rule in enumerate(config.get("rules") or [])}  # fmt: skip
    refs.update({f"config.lines.{key}": key for key in config.get("lines") or {}})
    return refs


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


def channel_json(channel: Channel, public_url: str) -> dict[str, Any]:
    """The admin view of an account: secrets masked, plus the addresses the admin needs."""
    hidden = SECRETS.get(channel.kind, frozenset())
    config = {k: mask(v) if k in hidden else v for k, v in (channel.config or {}).items()}
    view: dict[str, Any] = {
        "id": channel.id,
        "kind": channel.kind,
        "key": channel.key,
        "name": channel.name,
        "line_id": channel.line_id,
        "enabled": channel.enabled,
        "config": config,
        "secret_fields": sorted(hidden),
        "webhook_path": (
            f"/hooks/{channel.kind}/{channel.key}" if channel.kind in WEBHOOK_KINDS else None
        ),
    }
    if channel.kind == "webchat":
        view["chat_url"] = f"{public_url}/chat/{channel.key}"
        view["embed"] = (
            f'<script src="{public_url}/widget/widget.js" data-channel="{channel.key}" '
            "async></script>"
        )
    return view
