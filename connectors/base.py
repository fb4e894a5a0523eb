"""The one contract every channel implements, and the description each kind gives of itself.

A channel's package exposes ``KIND``, a ``ChannelKind``: what the console needs to manage its
accounts (config model, secret fields, webhook or not, admin links), what it can do
(``Capabilities``), and how to make its ``Connector``. ``connectors.registry`` lists the kinds.

The connector itself is small (as aiogram's ``BaseSession``): the routes it serves on the hub's
port, a run loop and close. Parsing, rendering and delivery stay inside the channel's package;
the machinery the platform connectors share lives in ``connectors.platform``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from aiohttp import web
from pydantic import BaseModel

from config.settings import Settings
from connectors.checks import AccountCheck
from connectors.context import ConnectorContext


@dataclass(frozen=True)
class Capabilities:
    """What a kind of channel can do, read by the console and stamped on inbound envelopes."""

    label: str
    """The kind's name as people read it ("Web chat")."""
    can_edit: bool = False
    """A sent message can be changed afterwards."""
    receipts: bool = False
    """The platform reports delivery or reading of our messages."""
    max_text: int | None = None
    """Longest text the platform takes in one message (longer ones are split); None: unsplit."""
    buttons: bool = False
    """Messages can carry buttons."""
    files: bool = True
    """Messages can carry files."""
    echo: bool = False
    """The client's own messages are shown back to the client (a web chat's other tabs)."""


@runtime_checkable
class Connector(Protocol):
    """A running channel: its routes on the hub's port, a run loop, and close."""

    kind: str

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        """HTTP routes (webhooks, pages) served on the hub's port."""
        ...

    async def run(self) -> None:
        """Receive from the platform and deliver outbound entries until the bus stops."""
        ...

    async def close(self) -> None:
        """Release sockets, sessions and pollers."""
        ...


@runtime_checkable
class LoadsAccounts(Protocol):
    """A connector that can reload its accounts on demand: the console's process does so before
    it answers a change, so a new account's webhook answers at once (other processes learn
    through the ``channels.changed`` notice)."""

    kind: str

    async def load_accounts(self) -> None:
        """Read this kind's accounts from the database now."""
        ...


AccountChecker = Callable[[Settings, Mapping[str, Any], bool], Awaitable[AccountCheck]]
"""Asks the platform about a config's credentials (settings, config, with the webhook view)."""


def no_line_refs(config: Mapping[str, Any]) -> dict[str, str]:
    """A config that names no lines."""
    return {}


def no_links(key: str, public_url: str) -> dict[str, str]:
    """No addresses beyond the webhook path."""
    return {}


@dataclass(frozen=True)
class ChannelKind:
    """Everything the hub knows about one kind of channel, held by the channel's package."""

    kind: str
    capabilities: Capabilities
    config: type[BaseModel]
    """The model an account's config must satisfy; the console checks configs with it."""
    make: Callable[[ConnectorContext], Connector]
    secrets: frozenset[str] = frozenset()
    """Config fields never sent back in full."""
    webhook: bool = False
    """Reached by the platform at ``/hooks/<kind>/<key>``."""
    line_refs: Callable[[Mapping[str, Any]], dict[str, str]] = field(default=no_line_refs)
    """Line ids a checked config names, by the config path naming them."""
    links: Callable[[str, str], dict[str, str]] = field(default=no_links)
    """Extra addresses an admin needs for an account (key, public url), by name."""
    check: AccountChecker | None = None
    """Asks the platform whether it takes the credentials (connectors.checks)."""
