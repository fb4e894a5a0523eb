"""Visitor tokens: a random, server-issued visitor id bound to one channel and signed.

The browser keeps the token; whoever holds it is that visitor, and only on that channel. No
state is kept on the server, so any hub process can check any token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from core.limits import parse_id, signature_matches

VERSION = "v1"


@dataclass(frozen=True)
class Visitor:
    """Who a valid token says the caller is."""

    visitor_id: str
    channel_id: int


def issue_token(secret: bytes, channel_id: int) -> tuple[str, Visitor]:
    """A new visitor on ``channel_id`` and their token."""
    visitor = Visitor(secrets.token_urlsafe(18), channel_id)
    return _sign(secret, visitor), visitor


def check_token(secret: bytes, token: str, channel_id: int) -> Visitor | None:
    """The visitor a token names, or None when it is forged, malformed or for another channel."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        return None
    token_channel = parse_id(parts[2])
    if token_channel != channel_id or not parts[1]:
        return None
    visitor = Visitor(parts[1], channel_id)
    if not signature_matches(_sign(secret, visitor), token):
        return None
    return visitor


def _sign(secret: bytes, visitor: Visitor) -> str:
    body = f"{VERSION}.{visitor.visitor_id}.{visitor.channel_id}"
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
