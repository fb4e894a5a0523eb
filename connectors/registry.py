"""Every channel the hub knows. Adding a channel adds a package and one line here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from aiohttp import web

from connectors.context import ConnectorContext
from connectors.email.adapter import EmailConnector
from connectors.telegram.adapter import TelegramConnector
from connectors.viber.adapter import ViberConnector
from connectors.vk.adapter import VkConnector
from connectors.webchat.adapter import WebchatConnector


class RunningConnector(Protocol):
    """What the hub needs from a connector to host it."""

    kind: str

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        """HTTP routes (webhooks, pages) served on the hub's port."""
        ...

    async def run(self) -> None:
        """Work until ``context.bus.stopping`` is set."""
        ...

    async def close(self) -> None:
        """Release sockets and sessions."""
        ...


CONNECTORS: dict[str, Callable[[ConnectorContext], RunningConnector]] = {
    "webchat": WebchatConnector,
    "telegram": TelegramConnector,
    "viber": ViberConnector,
    "vk": VkConnector,
    "email": EmailConnector,
}
