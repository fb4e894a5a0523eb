"""A web chat's settings as kept in ``Channel.config`` (kind ``webchat``), validated."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.base import Capabilities

CAPABILITIES = Capabilities(label="Web chat", files=True, echo=True)
"""A visitor's other tabs show the visitor's own messages; texts are not split."""


class WebchatConfig(BaseModel):
    """A web chat's settings; key, name and line say the rest."""

    model_config = ConfigDict(extra="forbid")
    site_secret: SecretStr | None = Field(default=None, min_length=16, max_length=256)
    """The key the website signs its logged-in users with (connectors/webchat/identity.py).
    Unset, the chat refuses site identities. At least 16 characters: it guards a strong CRM
    key that merges clients automatically."""
    upload_max_mb: int = Field(default=10, ge=0, le=2048)
    """Largest file a visitor may send, in MiB; 0 turns visitors' uploads off."""
    upload_types: tuple[str, ...] = Field(
        default=("image/*", "application/pdf", "text/plain"), max_length=50
    )
    """Content types visitors may send (``image/*`` matches every image type), among those
    the hub accepts at all (``connectors.filetypes``); ``*/*`` allows all of those."""
    forms: tuple[Literal["callback", "contact"], ...] = ()
    """Forms the widget's launcher offers beside the chat: "call me back" (a dialog whose
    first message is the phone) and a contact form (a message with an email)."""
    prechat: bool = False
    """Ask a new visitor's name, and optionally email and phone, with their first message.
    The answers reach the CRM as the visitor's own word (unverified); a site-signed identity
    keeps its own name and email."""


def type_allowed(mime: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``mime`` matches one of ``patterns`` (``type/*`` and ``*/*`` as wildcards)."""
    major = mime.split("/", 1)[0]
    return any(p in (mime, "*/*", f"{major}/*") for p in patterns)


def admin_links(key: str, public_url: str) -> dict[str, str]:
    """The chat's own page and the snippet that embeds the widget in a website."""
    return {
        "chat_url": f"{public_url}/chat/{key}",
        "embed": (
            f'<script src="{public_url}/widget/widget.js" data-channel="{key}" async></script>'
        ),
    }
