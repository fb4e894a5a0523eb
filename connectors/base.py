"""The one small protocol every channel implements."""

from __future__ import annotations

from typing import Any, Protocol

from core.envelope import Outbound


class Connector(Protocol):
    """A channel: pure parsing of its platform's payloads, sending, a run loop, and close.

    ``parse`` turns one platform payload into our envelope (or says why it cannot); ``send``
    delivers one outbound entry; ``run`` receives from the platform and drains the channel's
    outbound stream until cancelled; ``close`` releases connections.
    """

    kind: str

    def parse(self, raw: Any) -> Any:
        """Turn a platform payload into an envelope, or an error naming the bad field."""
        ...

    async def send(self, outbound: Outbound) -> None:
        """Deliver one outbound entry to the platform."""
        ...

    async def run(self) -> None:
        """Work until cancelled."""
        ...

    async def close(self) -> None:
        """Release connections and sockets."""
        ...
