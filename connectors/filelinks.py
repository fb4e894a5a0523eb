"""Signed, expiring links to stored files, for those who have no console session.

A platform that takes files by URL (Viber) and the web-chat visitor both need to fetch an
operator's attachment without logging in. A link ``/files/<token>`` names one stored file
(channel id and sha256) and an expiry, signed with the hub's secret (HMAC-SHA256), so it can
be neither forged nor stretched; ``operator_console.files_api`` serves it and answers 403 to a
bad or expired token. Nothing is stored per link: a hub restart or a second process checks the
same signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from connectors.attachments import parse_url
from core.envelope import Attachment

PATH_PREFIX = "/files/"
DEFAULT_TTL_S = 7 * 24 * 3600
"""A week: long enough for a visitor who comes back to a chat, short enough that a leaked link
dies. The web chat re-signs its history on every reconnect, so its links stay fresh."""

_TOKEN = re.compile(r"^(\d{1,18})\.([0-9a-f]{64})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")


def _mac(secret: bytes, channel_id: int, sha256: str, expires: int) -> str:
    # A purpose prefix keeps a file link from ever verifying as any other signed value.
    body = f"file-link:{channel_id}:{sha256}:{expires}".encode()
    digest = hmac.new(secret, body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_token(secret: bytes, channel_id: int, sha256: str, expires: int) -> str:
    """A token for one stored file, valid until ``expires`` (unix seconds)."""
    return f"{channel_id}.{sha256}.{expires}.{_mac(secret, channel_id, sha256, expires)}"


def check_token(secret: bytes, token: str, now: float) -> tuple[int, str] | None:
    """(channel id, sha256) of a genuine, unexpired token; None for anything else."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    channel_id, sha, expires = int(match.group(1)), match.group(2), int(match.group(3))
    if not hmac.compare_digest(_mac(secret, channel_id, sha, expires), match.group(4)):
        return None
    if expires < now:
        return None
    return channel_id, sha


@dataclass(frozen=True)
class FileLinks:
    """Makes public links for attachments; ``base_url`` is the hub's public address."""

    secret: bytes
    base_url: str = ""
    ttl_s: int = DEFAULT_TTL_S

    def path(self, attachment: Attachment, now: float | None = None) -> str | None:
        """``/files/<token>`` for a stored attachment; None when its url names no stored file."""
        parsed = parse_url(attachment.url)
        if parsed is None:
            return None
        # Expiry rounded up to the hour: links signed within the same hour are identical, so a
        # browser can cache an image across reconnects.
        at = time.time() if now is None else now
        expires = (int(at + self.ttl_s) // 3600 + 1) * 3600
        return PATH_PREFIX + sign_token(self.secret, parsed[0], parsed[1], expires)

    def absolute(self, attachment: Attachment, now: float | None = None) -> str | None:
        """The full public URL (what a platform's servers fetch)."""
        path = self.path(attachment, now)
        return None if path is None else self.base_url.rstrip("/") + path
