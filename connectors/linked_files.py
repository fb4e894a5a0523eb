"""Files a user sent that the platform hands over as links (Telegram's files after
``getFile``, Viber's media, VK's photos, documents and voice messages): fetched as the update
is read and kept with the hub's attachments.

A file that cannot be kept (too big, or refused by the platform's server) becomes a note in
the message's text, so the operator knows something was sent. A server error or a failed
connection raises ``Retry``: the update is read again later, with every file it carries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp

from connectors.attachments import AttachmentStore, Kind
from connectors.slow_links import transfer_s
from core.bus import Retry
from core.envelope import Attachment

MAX_BYTES = 50 * 1024 * 1024
"""The largest file kept. Viber and VK cap what a user may send near this; a bot may download
no more than 20 MB from Telegram (``connectors.telegram.adapter.MAX_DOWNLOAD``)."""

CHUNK = 64 * 1024
WAIT_S = 30.0
"""The fixed part of a download's time, and how long a server may send nothing."""


@dataclass(frozen=True)
class LinkedFile:
    """A file a user sent, at an address of the platform's."""

    url: str
    kind: Kind
    name: str
    size: int = 0
    """As the platform states it, 0 when it does not: the body is counted as it comes anyway."""
    mime: str = ""
    """As the platform states it; when it does not, the file server's Content-Type."""


@dataclass(frozen=True)
class _Body:
    data: bytes
    mime: str


async def keep_linked(
    http: aiohttp.ClientSession,
    store: AttachmentStore,
    channel_id: int,
    files: Iterable[LinkedFile],
    text: str,
    platform: str,
) -> tuple[str, list[Attachment]]:
    """Fetch and store ``files``; the message's text with a note for each file that could not
    be kept, and the attachments of those that were. ``platform`` names it in a retry's
    reason."""
    attachments: list[Attachment] = []
    for file in files:
        body = await _fetch(http, file, platform)
        if isinstance(body, str):
            text = (text + f"\n[{file.name}: {body}]").strip()
            continue
        attachments.append(
            await store.save(channel_id, body.data, kind=file.kind, name=file.name, mime=body.mime)
        )
    return text, attachments


async def _fetch(http: aiohttp.ClientSession, file: LinkedFile, platform: str) -> _Body | str:
    """The file's bytes and type, or why it is not kept."""
    if file.size > MAX_BYTES:
        return "too big to keep"
    # The session's bound suits API calls; a 50 MB video on a slow link needs minutes, and a
    # download cut short would be retried with the whole update, and cut short again.
    timeout = aiohttp.ClientTimeout(
        total=WAIT_S + transfer_s(file.size or MAX_BYTES), sock_connect=WAIT_S, sock_read=WAIT_S
    )
    try:
        async with http.get(file.url, timeout=timeout) as resp:
            if resp.status >= 500:
                raise Retry(f"{platform} file download answered {resp.status}")
            if resp.status != 200:
                return "could not be downloaded"
            # A stated size may be missing or wrong: the body itself is never read past the cap.
            if (resp.content_length or 0) > MAX_BYTES:
                return "too big to keep"
            data = bytearray()
            async for chunk in resp.content.iter_chunked(CHUNK):
                data += chunk
                if len(data) > MAX_BYTES:
                    return "too big to keep"
            return _Body(bytes(data), file.mime or resp.headers.get("Content-Type", ""))
    except (aiohttp.ClientError, TimeoutError) as exc:
        # A Telegram file's address holds the bot's token: the reason, which is logged, does not.
        reason = repr(exc).replace(file.url, "<the file's address>")
        raise Retry(f"{platform} file download failed: {reason}") from exc
