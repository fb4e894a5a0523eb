"""Signing outgoing webhook requests, and checking such a signature (for receivers and tests).

The header is ``Openlines-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over
``"<t>.<body>"`` with the webhook's secret. The time is inside the signed text, so a receiver
that refuses old timestamps also refuses a replay of a captured request.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Openlines-Signature"
EVENT_HEADER = "Openlines-Event"
EVENT_ID_HEADER = "Openlines-Event-Id"
TOLERANCE_S = 300
"""How old a signed request a receiver should still accept."""


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def check_signature(secret: str, header: str, body: bytes, now: float) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``TOLERANCE_S`` old."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > TOLERANCE_S:
        return False
    return hmac.compare_digest(_mac(secret, timestamp, body), parts.get("v1", ""))
