"""A visitor's link to the hub: their websocket, or the long-poll link that stands in for one
where a network refuses websockets (``connectors.webchat.polling``). Both carry the same frames
(docs/PROTOCOL.md, "Web chat"), so the chat's handlers take either."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

MAX_FRAME_BYTES = 64 * 1024
"""The largest frame a visitor may send, over either link."""


class VisitorLink(Protocol):
    """What the chat does with a visitor's link: send a frame, and close it."""

    async def send_json(
        self, data: Any, compress: int | None = None, *, dumps: Callable[[Any], str] = ...
    ) -> None:
        """Send one frame; ``ConnectionError`` or ``RuntimeError`` once the link is closed."""

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool:
        """Close the link with a websocket close code and reason; False if it was closed."""
