"""The start of an HTTP answer's body, for a delivery log: an endpoint that answers a webhook
with a flood of bytes costs the hub no more memory than what is kept of it."""

from __future__ import annotations

import aiohttp


async def answer_head(response: aiohttp.ClientResponse, limit: int) -> str:
    """The first ``limit`` bytes of ``response``'s body as text (bytes that are not UTF-8
    replaced); the rest is never read."""
    head = bytearray()
    while len(head) < limit:
        # ``read(n)`` gives what has arrived, up to n: a long body takes several.
        chunk = await response.content.read(limit - len(head))
        if not chunk:
            break
        head += chunk
    return head.decode("utf-8", errors="replace")
