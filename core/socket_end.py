"""A websocket's connection that its client no longer reads is cut off once the socket ends.

Ending a socket closes its connection gently: whatever is still written but unsent goes out
first, and only then is the connection let go. aiohttp does this when a heartbeat goes
unanswered, when the client's close frame comes, and when a handler returns. A client that
stopped reading (a frozen tab, a phone gone to sleep behind a live NAT, or one that means
harm) never takes that data; while its kernel keeps acknowledging the probes of a full
window, TCP never gives up either, and the connection holds its buffers for good. So the
handler of each socket hands its connection here when it ends, and a connection that still
holds unsent bytes ``LINGER_S`` later is aborted.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)

LINGER_S = 5.0
"""How long an ended socket's connection may take to send what it still holds: ample for a
client that reads, whose buffers drain in milliseconds."""


def abort_if_unread(transport: asyncio.Transport | None, what: str) -> None:
    """Abort ``transport`` ``LINGER_S`` from now if it still holds unsent bytes then.

    ``what`` names the socket in the log line (``a visitor's socket``)."""
    if transport is None:
        return
    asyncio.get_running_loop().call_later(LINGER_S, _abort_unread, transport, what)


def _abort_unread(transport: asyncio.Transport, what: str) -> None:
    unsent = transport.get_write_buffer_size()
    if unsent:
        log.info("%s ended %.0f s ago with %d bytes its client never read; cut off",
                 what, LINGER_S, unsent)  # fmt: skip
        transport.abort()
